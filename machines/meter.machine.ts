/**
 * The LEM DCBM 400/600 meter statechart. One actor per meter: connecting (init with retries), then operation as
 * parallel regions: link (communication fault), readings, answers (invalid device answers), warm-up, time sync,
 * transactions and temperature.
 * Pure: every effect is an actor injected with `.provide()` (src/adapters/lem-dcbm/meter.actors.ts).
 */
import { meterSetup } from './meter/meter.setup.js';
import type { MeterMachineInput } from './meter/meter.types.js';
import { connectingState } from './meter/connecting.state.js';
import { answersState, linkState, readingState, warmupState } from './meter/operation.state.js';
import { temperatureState } from './meter/temperature.state.js';
import { timeSyncState } from './meter/time-sync.state.js';
import { transactionState } from './meter/transaction.state.js';

export const meterMachine = meterSetup.createMachine({
  id: 'meter',
  context: ({ input }: { input: MeterMachineInput }) => ({
    config: input,
    meterId: '',
    publicKeyOcmf: '',
    firmware: '',
    api: input.apiVersion === 'v2' ? 'v2' : 'v1',
    device: { open: false, transactionId: '' },
    needToStop: false,
    currentTxId: '',
    commandSinceRefresh: false,
    cachedOcmf: undefined,
    initAttempts: 0,
    commandAttempts: 0,
    startPostUncertain: false,
    command: undefined,
    stop: undefined,
    warmedUp: false,
    ntpSaved: false,
    syncUnsafe: false,
    lastReading: undefined,
    initError: undefined,
    initFault: false,
    linkError: undefined,
    commandError: undefined,
    commFault: false,
    commFaultEverest: undefined,
  }),
  initial: 'connecting',
  states: {
    connecting: connectingState,
    operational: {
      type: 'parallel',
      entry: 'emitIdentity',
      states: {
        link: linkState,
        readings: readingState,
        answers: answersState,
        warmup: warmupState,
        timeSync: timeSyncState,
        transaction: transactionState,
        temperature: temperatureState,
      },
    },
  },
});

export type { MeterMachineInput } from './meter/meter.types.js';
