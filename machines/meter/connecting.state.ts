/**
 * Region before operation: the init sequence of reference §4.3 (IT setting, status, open transaction), with the
 * init retry policy drawn as states. After the retries run out InitFailed is raised and the attempts go on at the
 * same delay, since a charger must recover when its meter comes back (EVerest/EVerest#917); the fault stays raised
 * until the meter connects.
 */
import { meterSetup } from './meter.setup.js';

const failure = ({ event }: { event: { error: unknown } }) => ({ error: event.error });
const onInitError = [
  {
    target: '#meter.connecting.failed',
    actions: [{ type: 'recordInitError', params: failure }, 'countInitAttempt', { type: 'raiseCommFaultOnce', params: failure }],
  },
] as const;
const connected = ['resetInitAttempts', 'clearCommFault', 'clearInitFault'] as const;

export const connectingState = meterSetup.createStateConfig({
  initial: 'checkingIt',
  on: {
    START_TRANSACTION: { actions: { type: 'rejectCommand', params: { kind: 'not-ready', reason: 'Powermeter is not initialized' } } },
    STOP_TRANSACTION: { actions: { type: 'rejectCommand', params: { kind: 'not-ready', reason: 'Powermeter is not initialized' } } },
  },
  states: {
    checkingIt: {
      always: [{ guard: 'itConfigured', target: 'readingIt' }, { target: 'readingStatus' }],
    },
    readingIt: {
      invoke: {
        src: 'readItSetting',
        onDone: [{ guard: { type: 'itMatches', params: ({ event }) => ({ IT: event.output }) }, target: 'readingStatus' }, { target: 'writingIt' }],
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
        onDone: { target: 'readingOpenTransaction', actions: { type: 'assignIdentity', params: ({ event }) => event.output } },
        onError: onInitError,
      },
    },
    readingOpenTransaction: {
      invoke: {
        src: 'readLegal',
        input: ({ context }) => ({ api: context.api }),
        onDone: { target: '#meter.operational', actions: [{ type: 'assignDeviceRecord', params: ({ event }) => event.output }, ...connected] },
        // A meter that never ran a transaction may answer 404 here [SIM-CONFIG]; that is not an init failure.
        onError: [
          { guard: { type: 'isHttpStatusError', params: failure }, target: '#meter.operational', actions: connected },
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
      // Raised once; every further failed attempt comes back here (the attempts are not reset) without clearing it.
      entry: 'raiseInitFault',
      after: { initRetryDelay: 'checkingIt' },
    },
  },
});
