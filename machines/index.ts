/**
 * Every statechart of the controller, by name: the one registry the process, the diagrams, the inspector and
 * the model-based tests share.
 */
import { meterMachine } from './meter.machine.js';
import { registrationMachine } from './registration.machine.js';

export const machines = {
  meter: meterMachine,
  registration: registrationMachine,
} as const;

export type MachineName = keyof typeof machines;

export { meterMachine, registrationMachine };
