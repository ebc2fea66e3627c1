/**
 * Registers one or many sites: one registration actor per site, at most `concurrency` at a time, each reporting
 * progress; resolves with every site's outcome once each has registered or failed.
 */
import { createActor, type AnyEventObject } from 'xstate';
import { registrationMachine } from '../../../machines/registration.machine.js';
import type { Failure, RegistrationEmitted, RegistrationPolicy, SiteRegistration } from '../../../machines/registration/registration.types.js';
import { createRegistrationActors } from './registration.actors.js';
import type { Sep2Client } from './sep2.client.js';

export type SiteOutcome =
  | { site: string; lfdi: string; ok: true; endDevice: string; der: string | undefined; deviceInformation: boolean | undefined; ms: number }
  | { site: string; lfdi: string; ok: false; failure: Failure; ms: number };

export interface RegisterOptions {
  client: Sep2Client;
  policy: RegistrationPolicy;
  concurrency: number;
  onEvent?: (event: RegistrationEmitted) => void;
  wallClock?: () => number;
}

export function registerSite(site: SiteRegistration, options: Omit<RegisterOptions, 'concurrency'>): Promise<SiteOutcome> {
  const started = performance.now();
  const machine = registrationMachine.provide({ actors: createRegistrationActors(options.client, { wallClock: options.wallClock }) });
  const actor = createActor(machine, { input: { site, policy: options.policy } });
  return new Promise((resolve) => {
    actor.on('*', (event: AnyEventObject) => {
      const e = event as RegistrationEmitted;
      options.onEvent?.(e);
      const ms = Math.round(performance.now() - started);
      if (e.type === 'registered') {
        actor.stop();
        resolve({ site: site.name, lfdi: site.lfdi, ok: true, endDevice: e.endDevice, der: e.der, deviceInformation: e.deviceInformation, ms });
      } else if (e.type === 'failed') {
        actor.stop();
        resolve({ site: site.name, lfdi: site.lfdi, ok: false, failure: e.failure, ms });
      }
    });
    actor.start();
  });
}

/** Registers every site with bounded concurrency; outcomes come back in the sites' order. */
export async function registerSites(sites: SiteRegistration[], options: RegisterOptions): Promise<SiteOutcome[]> {
  const outcomes: SiteOutcome[] = new Array<SiteOutcome>(sites.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < sites.length) {
      const index = next;
      next += 1;
      outcomes[index] = await registerSite(sites[index]!, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, sites.length) }, worker));
  return outcomes;
}
