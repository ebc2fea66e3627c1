/**
 * What the controller's wiring modules share: the typed publish function of the feed, and the inspection hook
 * that turns a root actor's snapshots into feed messages through the pure projection (adapters/feed/projection):
 * the machine's summary in the feed state, a public `state` message when its public status changes, and a
 * `chart` message (to subscribed clients only) for every change of its active leaves.
 */
import type { InspectionEvent } from 'xstate';
import type { FeedPayloads } from '../adapters/feed/feed.messages.js';
import { leafStates, projectSnapshot, type FeedState, type MachineIdentity, type Projected } from '../adapters/feed/projection.js';

export type Publish = <K extends keyof FeedPayloads>(type: K, payload: FeedPayloads[K]) => void;

interface RootSnapshot {
  leaves: string[];
  context: Record<string, unknown>;
  event: Record<string, unknown> & { type: string };
}

/** The root actor's snapshot in an inspection event, or undefined for a child's or a non-snapshot event. */
function rootSnapshot(ev: InspectionEvent): RootSnapshot | undefined {
  if (ev.type !== '@xstate.snapshot' || ev.actorRef.sessionId !== ev.rootId) return undefined;
  const snapshot = ev.snapshot as { value?: unknown; context?: Record<string, unknown> };
  if (snapshot.value === undefined) return undefined;
  return { leaves: leafStates(snapshot.value as never), context: snapshot.context ?? {}, event: ev.event as RootSnapshot['event'] };
}

export interface FeedInspection {
  state: FeedState;
  publish: Publish;
  /** The context fields the feed shows (small, no secrets). */
  summarize: (context: Record<string, unknown>) => Record<string, unknown>;
  /** Called after the projection, e.g. for a log line. */
  onProjected?: ((projected: Projected) => void) | undefined;
}

/** The inspection hook of one machine: its snapshots through the projection into the feed state and onto the feed. */
export function feedInspection(who: MachineIdentity, w: FeedInspection): (ev: InspectionEvent) => void {
  return (ev) => {
    const snapshot = rootSnapshot(ev);
    if (!snapshot) return;
    const projected = projectSnapshot(who, w.state.machines.get(who.machine), { ...snapshot, context: w.summarize(snapshot.context) });
    w.state.machines.set(who.machine, projected.summary);
    if (projected.chart) w.publish('chart', projected.chart);
    if (projected.state) w.publish('state', projected.state);
    w.onProjected?.(projected);
  };
}
