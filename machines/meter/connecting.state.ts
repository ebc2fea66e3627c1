/**
 * Region before operation: the init sequence of reference §4.3 (IT setting, status, open transaction), with the
 * init retry policy drawn as states. After the retries run out the fault is raised and the attempts go on at the
 * same delay, since a charger must recover when its meter comes back (EVerest/EVerest#917).
 */
import { meterSetup } from './meter.setup.js';

const onInitError = [
  { target: '#meter.connecting.failed', actions: ['recordError', 'countInitAttempt', 'raiseCommFaultOnce'] },
] as const;

export const connectingState = meterSetup.createStateConfig({
  initial: 'checkingIt',
  on: {
    START_TRANSACTION: { actions: { type: 'rejectCommand', params: { reason: 'Powermeter is not initialized' } } },
    STOP_TRANSACTION: { actions: { type: 'rejectCommand', params: { reason: 'Powermeter is not initialized' } } },
  },
  states: {
    checkingIt: {
      always: [{ guard: 'itConfigured', target: 'readingIt' }, { target: 'readingStatus' }],
    },
    readingIt: {
      invoke: {
        src: 'readItSetting',
        onDone: [{ guard: 'itMatches', target: 'readingStatus' }, { target: 'writingIt' }],
        onError: onInitError,
      },
    },
    writingIt: {
      invoke: {
        src: 'writeItSetting',
        input: ({ context }) => ({ IT: context.config.IT }),
        onDone: 'readingStatus',
        onError: onInitError,
      },
    },
    readingStatus: {
      invoke: {
        src: 'readStatus',
        onDone: { target: 'readingOpenTransaction', actions: 'assignIdentity' },
        onError: onInitError,
      },
    },
    readingOpenTransaction: {
      invoke: {
        src: 'readLegal',
        input: ({ context }) => ({ api: context.api }),
        onDone: { target: '#meter.operational', actions: ['assignCurrentTransaction', 'resetInitAttempts', 'clearCommFault'] },
        // A meter that never ran a transaction may answer 404 here [SIM-CONFIG]; that is not an init failure.
        onError: [
          { guard: 'isHttpStatusError', target: '#meter.operational', actions: ['resetInitAttempts', 'clearCommFault'] },
          ...onInitError,
        ],
      },
    },
    failed: {
      always: [
        { guard: 'initRetriesLeft', target: 'retryWaiting' },
        { target: 'exhausted' },
      ],
    },
    retryWaiting: {
      after: { initRetryDelay: 'checkingIt' },
    },
    exhausted: {
      entry: [{ type: 'raiseFault', params: { fault: 'InitFailed' } }],
      exit: [{ type: 'clearFault', params: { fault: 'InitFailed' } }, 'resetInitAttempts'],
      after: { initRetryDelay: 'checkingIt' },
    },
  },
});
