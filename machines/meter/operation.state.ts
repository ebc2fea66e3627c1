/**
 * Regions of normal operation that watch the meter: the communication link, the drift-free reading loop with
 * the OCMF cache of an open transaction (reference §4.3, §4.4), the validity of the meter's answers, and the
 * 2-minute warm-up after init.
 */
import { meterSetup } from './meter.setup.js';

const failure = ({ event }: { event: { error: unknown } }) => ({ error: event.error });

export const linkState = meterSetup.createStateConfig({
  initial: 'ok',
  states: {
    ok: {
      on: { COMM_LOST: { target: 'fault', actions: { type: 'raiseCommFault', params: ({ event }) => ({ error: event.error }) } } },
    },
    fault: {
      // Cleared only after a successful reading, then the device state is re-read (EVerest/EVerest#827).
      on: { LIVE_OK: 'refreshingStatus' },
    },
    refreshingStatus: {
      entry: 'raiseRefreshStarted',
      on: { COMM_LOST: 'fault' },
      invoke: {
        src: 'readStatus',
        onDone: { target: 'refreshingOpenTransaction', actions: { type: 'assignIdentity', params: ({ event }) => event.output } },
        onError: { target: 'fault', actions: { type: 'recordLinkError', params: failure } },
      },
    },
    refreshingOpenTransaction: {
      on: { COMM_LOST: 'fault' },
      invoke: {
        src: 'readLegal',
        input: ({ context }) => ({ api: context.api }),
        onDone: { target: 'ok', actions: [{ type: 'assignDeviceRecord', params: ({ event }) => event.output }, 'raiseDeviceTransaction', 'clearCommFault', 'emitIdentity'] },
        onError: [
          { guard: { type: 'isHttpStatusError', params: failure }, target: 'ok', actions: ['raiseDeviceTransaction', 'clearCommFault', 'emitIdentity'] },
          { target: 'fault', actions: { type: 'recordLinkError', params: failure } },
        ],
      },
    },
  },
});

export const readingState = meterSetup.createStateConfig({
  initial: 'waiting',
  // Ticks come at fixed multiples of the period; one that finds a read still running is skipped, not queued.
  invoke: { src: 'ticker', input: ({ context }) => ({ periodMs: context.config.readingIntervalMs }) },
  on: { TRANSACTION_CLOSED: { actions: 'dropOcmfCache' } },
  states: {
    waiting: {
      on: { TICK: 'reading' },
    },
    reading: {
      invoke: {
        src: 'readLive',
        input: ({ context }) => ({ api: context.api }),
        onDone: [
          { guard: 'needToStop', target: 'cachingOcmf', actions: { type: 'publishReading', params: ({ event }) => event.output } },
          { target: 'waiting', actions: { type: 'publishReading', params: ({ event }) => event.output } },
        ],
        onError: [
          { guard: { type: 'isInvalidAnswer', params: failure }, target: 'waiting', actions: { type: 'reportInvalidAnswer', params: failure } },
          { target: 'waiting', actions: { type: 'reportCommLoss', params: failure } },
        ],
      },
    },
    cachingOcmf: {
      invoke: {
        src: 'readOcmf',
        input: ({ context }) => ({ api: context.api, transactionId: context.currentTxId }),
        onDone: { target: 'waiting', actions: { type: 'cacheOcmf', params: ({ event }) => ({ ocmf: event.output }) } },
        // Read errors of the cache are only recorded (EVerest/EVerest#1215).
        onError: { target: 'waiting', actions: { type: 'reportCommLoss', params: failure } },
      },
    },
  },
});

/** Repeated invalid answers (three in a row) raise InvalidResponse; the next good answer clears it. */
export const answersState = meterSetup.createStateConfig({
  initial: 'valid',
  states: {
    valid: { on: { ANSWER_INVALID: 'once' } },
    once: { on: { ANSWER_INVALID: 'twice', LIVE_OK: 'valid' } },
    twice: {
      on: {
        ANSWER_INVALID: {
          target: 'invalid',
          actions: { type: 'raiseFault', params: ({ event }) => ({ fault: 'InvalidResponse' as const, message: `three invalid answers in a row; the last: ${event.error.message}` }) },
        },
        LIVE_OK: 'valid',
      },
    },
    invalid: {
      exit: { type: 'clearFault', params: { fault: 'InvalidResponse' } },
      on: { LIVE_OK: 'valid' },
    },
  },
});

export const warmupState = meterSetup.createStateConfig({
  initial: 'warming',
  states: {
    warming: {
      after: { warmup: { target: 'done', actions: ['markWarmedUp', 'raiseWarmedUp'] } },
    },
    done: { type: 'final' },
  },
});
