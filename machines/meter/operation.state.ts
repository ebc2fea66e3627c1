/**
 * Regions of normal operation that watch the meter: the communication link, the drift-free reading loop with
 * the OCMF cache of an open transaction (reference §4.3, §4.4), and the 2-minute warm-up after init.
 */
import { meterSetup } from './meter.setup.js';

export const linkState = meterSetup.createStateConfig({
  initial: 'ok',
  states: {
    ok: {
      on: { COMM_LOST: { target: 'fault', actions: ['markCommFault', { type: 'raiseFault', params: { fault: 'CommunicationFault' } }] } },
    },
    fault: {
      // Cleared only after a successful reading, then the device state is re-read (EVerest/EVerest#827).
      on: { LIVE_OK: 'refreshingStatus' },
    },
    refreshingStatus: {
      on: { COMM_LOST: 'fault' },
      invoke: {
        src: 'readStatus',
        onDone: { target: 'refreshingOpenTransaction', actions: 'assignIdentity' },
        onError: { target: 'fault', actions: 'recordError' },
      },
    },
    refreshingOpenTransaction: {
      on: { COMM_LOST: 'fault' },
      invoke: {
        src: 'readLegal',
        input: ({ context }) => ({ api: context.api }),
        onDone: { target: 'ok', actions: ['assignCurrentTransaction', 'clearCommFault', 'emitIdentity'] },
        onError: [
          { guard: 'isHttpStatusError', target: 'ok', actions: ['clearCommFault', 'emitIdentity'] },
          { target: 'fault', actions: 'recordError' },
        ],
      },
    },
  },
});

export const readingState = meterSetup.createStateConfig({
  initial: 'waiting',
  // Ticks come at fixed multiples of the period; one that finds a read still running is skipped, not queued.
  invoke: { src: 'ticker', input: ({ context }) => ({ periodMs: context.config.readingIntervalMs }) },
  states: {
    waiting: {
      on: { TICK: 'reading' },
    },
    reading: {
      invoke: {
        src: 'readLive',
        input: ({ context }) => ({ api: context.api }),
        onDone: [
          { guard: 'needToStop', target: 'cachingOcmf', actions: 'publishReading' },
          { target: 'waiting', actions: 'publishReading' },
        ],
        onError: { target: 'waiting', actions: ['recordError', 'reportCommLoss'] },
      },
    },
    cachingOcmf: {
      invoke: {
        src: 'readOcmf',
        input: ({ context }) => ({ api: context.api, transactionId: context.currentTxId }),
        onDone: { target: 'waiting', actions: 'cacheOcmf' },
        // Read errors of the cache are only recorded (EVerest/EVerest#1215).
        onError: { target: 'waiting', actions: ['recordError', 'reportCommLoss'] },
      },
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
