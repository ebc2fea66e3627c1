/**
 * Every statechart of the controller, by name: the one registry the process, the diagrams, the inspector and
 * the model-based tests share.
 */
import { derClientMachine } from './der-client.machine.js';
import { meterMachine } from './meter.machine.js';
import { registrationMachine } from './registration.machine.js';
import { telemetryMachine } from './telemetry.machine.js';
import { transactionMachine } from './transaction.machine.js';

export const machines = {
  meter: meterMachine,
  transactions: transactionMachine,
  registration: registrationMachine,
  derClient: derClientMachine,
  telemetry: telemetryMachine,
} as const;

export type MachineName = keyof typeof machines;

export { derClientMachine, meterMachine, registrationMachine, telemetryMachine, transactionMachine };
