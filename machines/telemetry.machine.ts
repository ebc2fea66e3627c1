/**
 * The telemetry of one registered site to its 2030.5 server (CSIP-AUS Annex A; CACTUS ALL-06, 07, 08, 10, 29): four
 * parallel regions.
 *
 * - **mirrors** finds the site's and the DER's MirrorUsagePoints in the MirrorUsagePointList by mRID, creates those
 *   missing (the adapter POSTs and follows the Location), and reads the list again at its pollRate, so a new
 *   `postRate` is taken at the next read (ALL-10); a usage point that disappeared (404) is located again.
 * - **collecting** aggregates the meters' readings into the interval of the post rate (the domain's accumulator; a
 *   reading is sampled as it comes) and closes each interval at its end, on a fixed schedule aligned to the epoch
 *   (60 s intervals start on the minute: no drift); a closed interval's readings go to the backlog (a journal write).
 * - **sending** posts the backlog in order, oldest interval first, whenever the usage points are known; a failure
 *   waits `retryMs` and tries again, so an outage's readings are posted, in order, when the server is back.
 * - **reporting** PUTs DERStatus, DERAvailability and DERSettings at the DERList's pollRate and at once when the
 *   status changes (connected, available, operating: ALL-07, ALL-08).
 *
 * Pure: every request, the journal and the clock are actors injected with `.provide()`; times come with events.
 */
import { errorText, notProvided, outputOf } from './actors.js';
import { assign, emit, enqueueActions, fromCallback, raise, setup, type EventObject } from 'xstate';
import {
  addSample, closeDue, dropMeter, emptyAccumulator, intervalReadings, nextEndMs, setIntervalLength,
  type Accumulator, type MeterRoles, type ReadingTypeSpec, type TelemetryReading,
} from '../src/domain/telemetry.js';
import { derReport, statusChanged, type DerCondition, type DerReport } from '../src/domain/telemetry-status.js';

export interface TelemetryInput {
  site: string;
  roles: MeterRoles;
  types: readonly ReadingTypeSpec[];
  condition: DerCondition;
  nowMs: number;
  /** Readings waiting in the backlog (kept across a restart). */
  queued?: number | undefined;
  /** The end of the last interval stored (kept across a restart), epoch seconds: the next never overlaps it. */
  lastEndS?: number | undefined;
  /** The interval length until the server gives a postRate, seconds (default 300). */
  defaultPostRateS?: number | undefined;
  /** Wait after a failed request before the next, ms (default 30 s). */
  retryMs?: number | undefined;
}

export interface MirrorsOutput {
  postRateS: number;
  /** When to read the MirrorUsagePointList again (its pollRate), seconds. */
  listPollRateS: number;
  nowMs: number;
}

export interface StoreOutput {
  queued: number;
  /** Readings dropped to keep the backlog within its bound (oldest first). */
  dropped: number;
}

export interface PostOutput {
  posted: number;
  queued: number;
  nowMs: number;
  /** From the end of the interval of the first reading posted to its POST, ms. */
  latencyMs: number | undefined;
}

export interface ReportOutput {
  report: DerReport;
  /** The DERList's pollRate, seconds. */
  pollRateS: number;
  nowMs: number;
}

export interface TelemetryContext {
  site: string;
  roles: MeterRoles;
  types: readonly ReadingTypeSpec[];
  retryMs: number;
  nowMs: number;
  acc: Accumulator;
  /** Closed intervals' readings not yet in the backlog. */
  pending: TelemetryReading[];
  queued: number;
  mirrorsKnown: boolean;
  postRateS: number | undefined;
  nextMirrorReadAtMs: number;
  posted: number;
  postFailures: number;
  lastError: string | undefined;
  condition: DerCondition;
  reported: DerReport | undefined;
  nextReportAtMs: number;
}

export type TelemetryEvent =
  | { type: 'READING'; meter: string; atMs: number; powerW: number; voltageV: number }
  | { type: 'METER_LOST'; meter: string; atMs: number }
  | { type: 'CONDITION'; condition: Partial<DerCondition>; atMs: number }
  | { type: 'INTERVAL_END'; nowMs: number }
  | { type: 'REPORT_DUE'; nowMs: number }
  | { type: 'RESCHEDULE' }
  | { type: 'RELOCATE' };

export type TelemetryEmitted =
  | { type: 'mirrors.ready'; postRateS: number; listPollRateS: number }
  | { type: 'mirrors.failed'; error: string }
  | { type: 'stored'; readings: number; queued: number; dropped: number }
  | { type: 'store.failed'; error: string }
  | { type: 'posted'; posted: number; queued: number; latencyMs: number | undefined }
  | { type: 'post.failed'; failures: number; queued: number; error: string }
  | { type: 'reported'; report: DerReport }
  | { type: 'report.failed'; error: string };

const errorStatus = (event: unknown): number | undefined => {
  const status = (event as { error?: { status?: unknown } }).error?.status;
  return typeof status === 'number' ? status : undefined;
};
/**
 * The next time on a fixed schedule after `nowMs`: the due time stays while it is ahead (a read or report made
 * early, on a change, does not move the schedule), slots missed while away are skipped, and a shorter rate applies
 * from now.
 */
const nextSlot = (dueMs: number, rateMs: number, nowMs: number): number => {
  const next = dueMs > nowMs ? dueMs : dueMs + Math.ceil((nowMs - dueMs + 1) / rateMs) * rateMs;
  return Math.min(next, nowMs + rateMs);
};
const current = (context: TelemetryContext): DerReport => derReport(context.condition);

export const telemetrySetup = setup({
  types: {
    context: {} as TelemetryContext,
    events: {} as TelemetryEvent,
    input: {} as TelemetryInput,
    emitted: {} as TelemetryEmitted,
  },
  actors: {
    locateMirrors: notProvided<MirrorsOutput, { site: string; fresh: boolean }>('locateMirrors'),
    storeReadings: notProvided<StoreOutput, { site: string; readings: TelemetryReading[]; lastEndS: number }>('storeReadings'),
    postBacklog: notProvided<PostOutput, { site: string }>('postBacklog'),
    putReports: notProvided<ReportOutput, { site: string; report: DerReport }>('putReports'),
    /** Sends `{type: event, nowMs}` at `atMs` (wall clock); injected, as it reads a clock. */
    alarm: fromCallback<EventObject, { atMs: number; event: 'INTERVAL_END' | 'REPORT_DUE' }>(() => undefined),
  },
  guards: {
    hasPending: ({ context }) => context.pending.length > 0,
    canSend: ({ context }) => context.mirrorsKnown && context.queued > 0,
    /** The usage point is gone (404): locate the mirrors again before posting more. */
    mirrorGone: ({ event }) => errorStatus(event) === 404,
    statusStale: ({ context }) => statusChanged(context.reported, current(context)),
  },
  actions: {
    absorbReading: assign(({ context, event }) => {
      if (event.type !== 'READING') return {};
      const { acc, closed } = addSample(context.acc, context.roles, { meter: event.meter, atMs: event.atMs, powerW: event.powerW, voltageV: event.voltageV });
      return { acc, nowMs: Math.max(context.nowMs, event.atMs), pending: closed ? [...context.pending, ...intervalReadings(closed, context.types)] : context.pending };
    }),
    dropMeter: assign(({ context, event }) => (event.type === 'METER_LOST' ? { acc: dropMeter(context.acc, event.meter) } : {})),
    absorbCondition: assign(({ context, event }) => (event.type === 'CONDITION' ? { condition: { ...context.condition, ...event.condition }, nowMs: Math.max(context.nowMs, event.atMs) } : {})),
    closeInterval: assign(({ context, event }) => {
      const nowMs = event.type === 'INTERVAL_END' ? Math.max(context.nowMs, event.nowMs) : context.nowMs;
      const { acc, closed } = closeDue(context.acc, nowMs);
      return { acc, nowMs, pending: closed ? [...context.pending, ...intervalReadings(closed, context.types)] : context.pending };
    }),
    noteStored: enqueueActions(({ context, event, enqueue }) => {
      const out = outputOf<StoreOutput>(event);
      const stored = context.pending.length;
      enqueue.assign({ pending: [], queued: out.queued });
      enqueue.emit({ type: 'stored', readings: stored, queued: out.queued, dropped: out.dropped });
    }),
    noteStoreFailure: emit(({ event }) => ({ type: 'store.failed' as const, error: errorText(event) })),
    absorbMirrors: enqueueActions(({ context, event, enqueue }) => {
      const out = outputOf<MirrorsOutput>(event);
      const nowMs = Math.max(context.nowMs, out.nowMs);
      const rateMs = Math.max(1, out.listPollRateS) * 1000;
      enqueue.assign({
        mirrorsKnown: true, postRateS: out.postRateS, nowMs, acc: setIntervalLength(context.acc, Math.max(1, out.postRateS), nowMs),
        nextMirrorReadAtMs: context.mirrorsKnown ? nextSlot(context.nextMirrorReadAtMs, rateMs, nowMs) : nowMs + rateMs,
      });
      enqueue.emit({ type: 'mirrors.ready', postRateS: out.postRateS, listPollRateS: out.listPollRateS });
      if (out.postRateS !== context.postRateS) enqueue.raise({ type: 'RESCHEDULE' });
    }),
    noteMirrorFailure: emit(({ event }) => ({ type: 'mirrors.failed' as const, error: errorText(event) })),
    forgetMirrors: assign({ mirrorsKnown: false }),
    notePosted: enqueueActions(({ context, event, enqueue }) => {
      const out = outputOf<PostOutput>(event);
      enqueue.assign({ queued: out.queued, posted: context.posted + out.posted, postFailures: 0, lastError: undefined, nowMs: Math.max(context.nowMs, out.nowMs) });
      enqueue.emit({ type: 'posted', posted: out.posted, queued: out.queued, latencyMs: out.latencyMs });
    }),
    notePostFailure: enqueueActions(({ context, event, enqueue }) => {
      const error = errorText(event);
      enqueue.assign({ postFailures: context.postFailures + 1, lastError: error });
      enqueue.emit({ type: 'post.failed', failures: context.postFailures + 1, queued: context.queued, error });
    }),
    relocate: raise({ type: 'RELOCATE' }),
    noteReported: enqueueActions(({ context, event, enqueue }) => {
      const out = outputOf<ReportOutput>(event);
      const nowMs = Math.max(context.nowMs, out.nowMs);
      const rateMs = Math.max(1, out.pollRateS) * 1000;
      enqueue.assign({ reported: out.report, nowMs, nextReportAtMs: context.reported ? nextSlot(context.nextReportAtMs, rateMs, nowMs) : nowMs + rateMs });
      enqueue.emit({ type: 'reported', report: out.report });
    }),
    noteReportFailure: emit(({ event }) => ({ type: 'report.failed' as const, error: errorText(event) })),
    setNow: assign({ nowMs: ({ context, event }) => ('nowMs' in event ? Math.max(context.nowMs, event.nowMs) : context.nowMs) }),
  },
  delays: {
    retryDelay: ({ context }) => context.retryMs,
    mirrorReadDelay: ({ context }) => Math.max(0, context.nextMirrorReadAtMs - context.nowMs),
  },
});

export const telemetryMachine = telemetrySetup.createMachine({
  id: 'telemetry',
  context: ({ input }) => ({
    site: input.site,
    roles: input.roles,
    types: input.types,
    retryMs: input.retryMs ?? 30_000,
    nowMs: input.nowMs,
    acc: emptyAccumulator(input.defaultPostRateS ?? 300, input.lastEndS ?? 0),
    pending: [],
    queued: input.queued ?? 0,
    mirrorsKnown: false,
    postRateS: undefined,
    nextMirrorReadAtMs: input.nowMs,
    posted: 0,
    postFailures: 0,
    lastError: undefined,
    condition: input.condition,
    reported: undefined,
    nextReportAtMs: input.nowMs,
  }),
  type: 'parallel',
  on: {
    READING: { actions: 'absorbReading' },
    METER_LOST: { actions: 'dropMeter' },
    CONDITION: { actions: 'absorbCondition' },
  },
  states: {
    mirrors: {
      initial: 'locating',
      states: {
        locating: {
          invoke: {
            src: 'locateMirrors',
            input: ({ context }) => ({ site: context.site, fresh: !context.mirrorsKnown }),
            onDone: { target: 'ready', actions: 'absorbMirrors' },
            onError: { target: 'unavailable', actions: 'noteMirrorFailure' },
          },
        },
        unavailable: {
          after: { retryDelay: 'locating' },
        },
        ready: {
          after: { mirrorReadDelay: 'locating' },
          on: { RELOCATE: { target: 'locating', actions: 'forgetMirrors' } },
        },
      },
    },
    collecting: {
      initial: 'open',
      states: {
        open: {
          always: { guard: 'hasPending', target: 'storing' },
          invoke: { src: 'alarm', input: ({ context }) => ({ atMs: nextEndMs(context.acc, context.nowMs), event: 'INTERVAL_END' as const }) },
          on: {
            INTERVAL_END: { target: 'open', reenter: true, actions: 'closeInterval' },
            RESCHEDULE: { target: 'open', reenter: true },
          },
        },
        storing: {
          invoke: {
            src: 'storeReadings',
            input: ({ context }) => ({ site: context.site, readings: context.pending, lastEndS: context.acc.lastEndS }),
            onDone: { target: 'open', actions: 'noteStored' },
            onError: { target: 'storeRetry', actions: 'noteStoreFailure' },
          },
        },
        storeRetry: {
          after: { retryDelay: 'storing' },
        },
      },
    },
    sending: {
      initial: 'idle',
      states: {
        idle: {
          always: { guard: 'canSend', target: 'posting' },
        },
        posting: {
          invoke: {
            src: 'postBacklog',
            input: ({ context }) => ({ site: context.site }),
            onDone: { target: 'idle', actions: 'notePosted' },
            onError: [
              { guard: 'mirrorGone', target: 'backoff', actions: ['notePostFailure', 'relocate'] },
              { target: 'backoff', actions: 'notePostFailure' },
            ],
          },
        },
        backoff: {
          after: { retryDelay: 'idle' },
        },
      },
    },
    reporting: {
      initial: 'waiting',
      states: {
        waiting: {
          always: { guard: 'statusStale', target: 'putting' },
          invoke: { src: 'alarm', input: ({ context }) => ({ atMs: context.nextReportAtMs, event: 'REPORT_DUE' as const }) },
          on: { REPORT_DUE: { target: 'putting', actions: 'setNow' } },
        },
        putting: {
          invoke: {
            src: 'putReports',
            input: ({ context }) => ({ site: context.site, report: current(context) }),
            onDone: { target: 'waiting', actions: 'noteReported' },
            onError: { target: 'retrying', actions: 'noteReportFailure' },
          },
        },
        retrying: {
          after: { retryDelay: 'putting' },
        },
      },
    },
  },
});
