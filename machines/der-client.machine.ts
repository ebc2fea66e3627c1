/**
 * The CSIP-AUS DER client of one registered site (class A + L): three parallel regions.
 *
 * - **polling** reads the server's FunctionSetAssignments, DER programs, their controls and defaults (the adapter
 *   follows the hrefs and reads each resource at its own pollRate); `unreachable` is communication loss: what is
 *   known keeps applying by its own times, and polls go on at the normal rates (CACTUS ALL-23).
 * - **scheduling** evaluates the schedule whenever what is known changes and at the next start or end (or every
 *   second while a limit ramps), and announces the applied limit (`grid.limit`) when it changes.
 * - **responding** posts the DERControlResponses the verdicts ask for, one at a time and in order, each status once
 *   per control; a failed post is tried again.
 *
 * Pure: the poll, the post and the alarm are actors injected with `.provide()`; `now` comes with their events.
 */
import { errorText, notProvided, outputOf } from './actors.js';
import { assign, emit, enqueueActions, fromCallback, raise, setup, type EventObject } from 'xstate';
import {
  admitControls, evaluate, sameLimit, statusesFor, type GridLimit, type PendingResponse, type ProgramSnapshot, type Ramp,
} from '../src/domain/der-client.js';
import type { Draws } from '../src/domain/der-schedule.js';

export interface DerClientInput {
  site: string;
  /** The DER's rated power (rtgMaxW), watts: ramps by setGradW are relative to it. */
  ratedW: number;
  /** What the journal kept from before a restart: applied at once, until the first successful poll. */
  restored?: { programs: ProgramSnapshot[]; responded: Record<string, number[]> } | undefined;
  /** Wait before the next poll after a failed one, ms (normal pollRates go on regardless). */
  retryMs?: number | undefined;
  nowMs: number;
}

export interface PollOutput {
  programs: ProgramSnapshot[];
  nowMs: number;
  /** When a resource is next due, ms. */
  nextPollAtMs: number;
}

export interface DerClientContext {
  site: string;
  ratedW: number;
  retryMs: number;
  nowMs: number;
  programs: ProgramSnapshot[];
  draws: Record<string, Draws>;
  rejected: Record<string, { status: number; reason: string }>;
  /** Statuses posted per control mRID (kept across restarts). */
  responded: Record<string, number[]>;
  outbox: PendingResponse[];
  /** Whether anything is known yet (a poll, or what the journal kept): before that no limit is announced. */
  known: boolean;
  limit: GridLimit | undefined;
  /** The latest site meter reading, when the site has one (opModImpLimW then limits the site, not the charger alone). */
  siteLoad: SiteLoad | undefined;
  ramp: Ramp | undefined;
  nextEvaluationAtMs: number | undefined;
  nextPollAtMs: number;
  pollFailures: number;
  lastPollError: string | undefined;
  responseFailures: number;
}

/** What a site meter measures: the site's import at the connection point (W, the charger's included) and the charger's own. */
export interface SiteLoad {
  siteImportW: number;
  chargerW: number;
}

export type DerClientEvent =
  | { type: 'NOW'; nowMs: number }
  | { type: 'POLL' }
  | { type: 'KNOWN_CHANGED' }
  /** The site meter's reading; `load` undefined when the site meter has gone quiet (the import limit then caps the charger). */
  | { type: 'SITE_LOAD'; load: SiteLoad | undefined };

export type DerClientEmitted =
  | { type: 'grid.limit'; limit: GridLimit }
  | { type: 'polled'; programs: number; controls: number }
  | { type: 'poll.failed'; failures: number; error: string }
  | { type: 'rejected'; mrid: string; status: number; reason: string }
  | { type: 'responded'; mrid: string; status: number }
  | { type: 'response.failed'; mrid: string; status: number; error: string }
  | { type: 'persist'; programs: ProgramSnapshot[]; responded: Record<string, number[]> };

/** A response the server refuses with a 4xx will never be taken: it is dropped (and logged), not retried. */
const permanent = (event: unknown): boolean => {
  const status = (event as { error?: { status?: unknown } }).error?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 429;
};

/** The first response of the outbox is settled (posted, or refused for good): it is never posted again. */
function settleFirst(context: DerClientContext) {
  const sent = context.outbox[0]!;
  const responded = { ...context.responded, [sent.subject]: [...(context.responded[sent.subject] ?? []), sent.status] };
  return { sent, outbox: context.outbox.slice(1), responded, responseFailures: 0 };
}

export const derClientSetup = setup({
  types: {
    context: {} as DerClientContext,
    events: {} as DerClientEvent,
    input: {} as DerClientInput,
    emitted: {} as DerClientEmitted,
  },
  actors: {
    pollServer: notProvided<PollOutput, { site: string }>('pollServer'),
    postResponse: notProvided<void, PendingResponse>('postResponse'),
    /** Sends NOW at `atMs` (wall clock); injected, as it reads a clock. */
    alarm: fromCallback<EventObject, { atMs: number | undefined }>(() => undefined),
  },
  guards: {
    hasOutbox: ({ context }) => context.outbox.length > 0,
    permanentFailure: ({ event }) => permanent(event),
  },
  actions: {
    absorbPoll: enqueueActions(({ context, event, enqueue }) => {
      const poll = outputOf<PollOutput>(event);
      const { draws, rejected, fresh } = admitControls(context.site, poll.programs, context);
      for (const r of fresh) enqueue.emit({ type: 'rejected', mrid: r.mrid, status: r.status, reason: r.reason });
      enqueue.assign({ known: true, programs: poll.programs, draws, rejected, nowMs: Math.max(context.nowMs, poll.nowMs), nextPollAtMs: poll.nextPollAtMs, pollFailures: 0, lastPollError: undefined });
      enqueue.emit({ type: 'polled', programs: poll.programs.length, controls: poll.programs.reduce((n, p) => n + p.controls.length, 0) });
    }),
    notePollFailure: enqueueActions(({ context, event, enqueue }) => {
      const error = errorText(event);
      enqueue.assign({ pollFailures: context.pollFailures + 1, lastPollError: error, nextPollAtMs: context.nowMs + context.retryMs });
      enqueue.emit({ type: 'poll.failed', failures: context.pollFailures + 1, error });
    }),
    setNow: assign({ nowMs: ({ context, event }) => (event.type === 'NOW' ? Math.max(context.nowMs, event.nowMs) : context.nowMs) }),
    /** The schedule at `nowMs`: verdicts → responses to post; the limit → `grid.limit` when it changed. */
    evaluate: enqueueActions(({ context, enqueue }) => {
      const result = evaluate({
        site: context.site, ratedW: context.ratedW, nowMs: context.nowMs, programs: context.programs,
        rejected: new Set(Object.keys(context.rejected)), draws: new Map(Object.entries(context.draws)), ramp: context.ramp, siteLoad: context.siteLoad,
      });
      const outbox = [...context.outbox];
      for (const control of context.programs.flatMap((p) => p.controls)) {
        if (!control.replyTo || control.responseRequired === 0) continue;
        const rejection = context.rejected[control.mrid];
        const state = rejection ? 'rejected' : result.states.get(control.mrid);
        if (!state) continue;
        const done = new Set([...(context.responded[control.mrid] ?? []), ...outbox.filter((r) => r.subject === control.mrid).map((r) => r.status)]);
        for (const status of statusesFor(state, control.responseRequired, rejection?.status)) {
          if (!done.has(status)) outbox.push({ replyTo: control.replyTo, subject: control.mrid, status });
          done.add(status);
        }
      }
      enqueue.assign({ outbox, ramp: result.ramp, nextEvaluationAtMs: result.nextAtMs });
      if (context.known && !sameLimit(context.limit, result.limit)) {
        enqueue.assign({ limit: result.limit });
        enqueue.emit({ type: 'grid.limit', limit: result.limit });
      }
    }),
    shiftOutbox: enqueueActions(({ context, enqueue }) => {
      const { sent, ...done } = settleFirst(context);
      enqueue.assign(done);
      enqueue.emit({ type: 'responded', mrid: sent.subject, status: sent.status });
      enqueue.emit({ type: 'persist', programs: context.programs, responded: done.responded });
    }),
    dropResponse: enqueueActions(({ context, event, enqueue }) => {
      const { sent, ...done } = settleFirst(context);
      enqueue.assign(done);
      enqueue.emit({ type: 'response.failed', mrid: sent.subject, status: sent.status, error: `${errorText(event)} (not retried: the server refused it)` });
    }),
    noteResponseFailure: enqueueActions(({ context, event, enqueue }) => {
      const sent = context.outbox[0]!;
      enqueue.assign({ responseFailures: context.responseFailures + 1 });
      enqueue.emit({ type: 'response.failed', mrid: sent.subject, status: sent.status, error: errorText(event) });
    }),
    persist: emit(({ context }) => ({ type: 'persist' as const, programs: context.programs, responded: context.responded })),
    knownChanged: raise({ type: 'KNOWN_CHANGED' }),
    setSiteLoad: assign({ siteLoad: ({ context, event }) => (event.type === 'SITE_LOAD' ? event.load : context.siteLoad) }),
  },
  delays: {
    pollDelay: ({ context }) => Math.max(0, context.nextPollAtMs - context.nowMs),
    responseRetry: ({ context }) => Math.min(5_000 * 2 ** Math.min(context.responseFailures - 1, 6), 300_000),
  },
});

const pick = ({ draws, rejected }: ReturnType<typeof admitControls>) => ({ draws, rejected });

export const derClientMachine = derClientSetup.createMachine({
  id: 'derClient',
  context: ({ input }) => ({
    // What the journal kept is admitted as a poll would admit it (its draws are the same: they follow from the ids).
    ...pick(admitControls(input.site, input.restored?.programs ?? [], { draws: {}, rejected: {} })),
    site: input.site,
    ratedW: input.ratedW,
    retryMs: input.retryMs ?? 60_000,
    nowMs: input.nowMs,
    programs: input.restored?.programs ?? [],
    responded: input.restored?.responded ?? {},
    outbox: [],
    known: input.restored !== undefined,
    limit: undefined,
    siteLoad: undefined,
    ramp: undefined,
    nextEvaluationAtMs: undefined,
    nextPollAtMs: input.nowMs,
    pollFailures: 0,
    lastPollError: undefined,
    responseFailures: 0,
  }),
  type: 'parallel',
  states: {
    polling: {
      initial: 'reading',
      states: {
        reading: {
          invoke: {
            id: 'poll',
            src: 'pollServer',
            input: ({ context }) => ({ site: context.site }),
            onDone: { target: 'waiting', actions: ['absorbPoll', 'persist', 'knownChanged'] },
            onError: { target: 'unreachable', actions: 'notePollFailure' },
          },
        },
        waiting: {
          after: { pollDelay: 'reading' },
          on: { POLL: 'reading' },
        },
        // Communication loss: what is known applies by its own times; the next poll is tried after retryMs.
        unreachable: {
          after: { pollDelay: 'reading' },
          on: { POLL: 'reading' },
        },
      },
    },
    scheduling: {
      initial: 'evaluating',
      states: {
        evaluating: {
          entry: 'evaluate',
          always: 'waiting',
        },
        waiting: {
          invoke: { src: 'alarm', input: ({ context }) => ({ atMs: context.nextEvaluationAtMs }) },
          on: { NOW: { target: 'evaluating', actions: 'setNow' } },
        },
      },
      // What is known changed, or the site's load: evaluate now.
      on: {
        KNOWN_CHANGED: { target: '.evaluating' },
        SITE_LOAD: { target: '.evaluating', actions: 'setSiteLoad' },
      },
    },
    responding: {
      initial: 'idle',
      states: {
        idle: {
          always: { guard: 'hasOutbox', target: 'posting' },
        },
        posting: {
          invoke: {
            src: 'postResponse',
            input: ({ context }) => context.outbox[0]!,
            onDone: { target: 'idle', actions: 'shiftOutbox' },
            onError: [
              { guard: 'permanentFailure', target: 'idle', actions: 'dropResponse' },
              { target: 'retrying', actions: 'noteResponseFailure' },
            ],
          },
        },
        retrying: {
          after: { responseRetry: 'posting' },
        },
      },
    },
  },
});
