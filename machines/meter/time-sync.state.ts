/**
 * Time synchronisation (reference §4.5): system-time mode writes utc, then tz, then dst; NTP mode writes the NTP
 * configuration (once it was kept, never again), then tz and dst. The first sync follows the warm-up; a reliable
 * sync is repeated after 24 h, a failed or unreliable one after 1 min; the start flow asks for one before each
 * start (SYNC_NOW). Unlike the reference driver, a due sync waits for the transaction to end instead of being
 * refused by the meter every minute (time cannot be set during a transaction, OPMAN p.86).
 */
import { meterSetup } from './meter.setup.js';

const failure = ({ event }: { event: { error: unknown } }) => ({ error: event.error });
const failed = {
  target: '#meter.operational.timeSync.retryWaiting',
  actions: [{ type: 'reportCommLoss', params: failure }, { type: 'raiseTimeSyncFailed', params: failure }],
} as const;

export const timeSyncState = meterSetup.createStateConfig({
  initial: 'waitingForWarmup',
  states: {
    waitingForWarmup: {
      on: { WARMED_UP: 'syncing', SYNC_NOW: 'syncing' },
    },
    scheduled: {
      after: { syncInterval: 'syncing' },
      on: { SYNC_NOW: 'syncing' },
    },
    retryWaiting: {
      after: { syncRetry: 'syncing' },
      on: { SYNC_NOW: 'syncing' },
    },
    deferred: {
      // A sync fell due while a transaction was open.
      on: { TRANSACTION_ENDED: 'syncing', SYNC_NOW: 'syncing' },
    },
    ntpKept: {
      // The NTP configuration was written reliably: the meter keeps its own time from now on.
      on: { SYNC_NOW: { actions: 'raiseTimeSynced' } },
    },
    syncing: {
      initial: 'choosing',
      entry: 'beginSync',
      states: {
        choosing: {
          always: [
            { guard: 'needToStop', target: '#meter.operational.timeSync.deferred' },
            { guard: 'ntpMode', target: 'writingNtp' },
            { target: 'writingUtc' },
          ],
        },
        writingUtc: {
          invoke: { src: 'writeTimeSetting', input: { kind: 'utc' }, onDone: 'writingTz', onError: failed },
        },
        writingNtp: {
          invoke: {
            src: 'writeTimeSetting',
            input: ({ context }) => ({ kind: 'ntp' as const, servers: context.config.ntp }),
            onDone: { target: 'writingTz', actions: 'markNtpSaved' },
            onError: failed,
          },
        },
        writingTz: {
          invoke: {
            src: 'writeTimeSetting',
            input: ({ context }) => ({ kind: 'tz' as const, tz: context.config.timezone }),
            onDone: [{ guard: 'hasDst', target: 'writingDst' }, { target: 'done' }],
            onError: failed,
          },
        },
        writingDst: {
          invoke: {
            src: 'writeTimeSetting',
            input: ({ context }) => ({ kind: 'dst' as const, dst: context.config.dst! }),
            onDone: 'done',
            onError: failed,
          },
        },
        done: {
          entry: 'raiseTimeSynced',
          always: [
            { guard: 'syncUnsafe', target: '#meter.operational.timeSync.retryWaiting', actions: 'warnUnsafeSync' },
            { guard: 'ntpSaved', target: '#meter.operational.timeSync.ntpKept' },
            { target: '#meter.operational.timeSync.scheduled' },
          ],
        },
      },
    },
  },
});
