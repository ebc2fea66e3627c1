/**
 * What the controller's wiring modules share: the typed publish function of the feed, and the inspection hook
 * that turns a root actor's snapshots into state transitions (the feed's `state` messages).
 */
import type { InspectionEvent } from 'xstate';
import type { FeedPayloads } from '../adapters/feed/feed.messages.js';
import { leafStates, transition } from '../adapters/feed/projection.js';

export type Publish = <K extends keyof FeedPayloads>(type: K, payload: FeedPayloads[K]) => void;

export interface StateChange {
  from: string[];
  to: string[];
  event: string;
  leaves: string[];
  context: Record<string, unknown>;
}

/** Follows a root actor's snapshots through inspection and reports each change of its active leaves. */
export function transitions(onChange: (change: StateChange) => void): (ev: InspectionEvent) => void {
  let previous: string[] = [];
  return (ev) => {
    if (ev.type !== '@xstate.snapshot' || ev.actorRef.sessionId !== ev.rootId) return;
    const snapshot = ev.snapshot as { value?: unknown; context?: Record<string, unknown> };
    if (snapshot.value === undefined) return;
    const leaves = leafStates(snapshot.value as never);
    const t = transition(previous, leaves);
    previous = leaves;
    if (t) onChange({ ...t, event: ev.event.type, leaves, context: snapshot.context ?? {} });
  };
}
