/**
 * Registers one or many sites: one registration actor per site, at most `concurrency` at a time, each reporting
 * progress; resolves with every site's outcome once each has registered or failed.
 */
import { createActor, type Actor, type ActorOptions, type AnyEventObject } from 'xstate';
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

/** Registers one site with a short-lived actor. */
export async function registerSite(site: SiteRegistration, options: Omit<RegisterOptions, 'concurrency'>): Promise<SiteOutcome> {
  const fleet = new RegistrationFleet([site], options);
  try {
    return (await fleet.start())[0]!;
  } finally {
    fleet.stop();
  }
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

export type RegistrationActor = Actor<typeof registrationMachine>;

/**
 * Long-lived registration actors, one per site, for the controller: they register at start, stay in `registered`
 * or `failed`, and register again on demand (the `register` feed command).
 */
export class RegistrationFleet {
  readonly actors: { site: SiteRegistration; actor: RegistrationActor }[];

  constructor(
    sites: SiteRegistration[],
    private readonly options: Omit<RegisterOptions, 'concurrency'> & { inspectFor?: (site: SiteRegistration) => ActorOptions<typeof registrationMachine>['inspect'] },
  ) {
    const machine = registrationMachine.provide({ actors: createRegistrationActors(options.client, { wallClock: options.wallClock }) });
    this.actors = sites.map((site) => {
      const inspect = options.inspectFor?.(site);
      const actor = createActor(machine, { input: { site, policy: options.policy }, ...(inspect ? { inspect } : {}) });
      actor.on('*', (event: AnyEventObject) => options.onEvent?.(event as RegistrationEmitted));
      return { site, actor };
    });
  }

  readonly #started = new Set<RegistrationActor>();

  /** Starts (and so registers) every actor, or those `which` selects; resolves when each has registered or failed. */
  start(which: (site: SiteRegistration) => boolean = () => true): Promise<SiteOutcome[]> {
    return this.#settle(this.actors.filter((a) => which(a.site)), (actor) => this.#kick(actor));
  }

  /** Registers again (all sites, or the named one); resolves with the outcomes. */
  register(siteName?: string): Promise<SiteOutcome[]> {
    const chosen = siteName === undefined ? this.actors : this.actors.filter((a) => a.site.name === siteName);
    if (!chosen.length) return Promise.reject(new Error(`no registration site named "${siteName}"`));
    return this.#settle(chosen, (actor) => this.#kick(actor));
  }

  /** An actor not started yet registers by starting; a started one is asked to register again. */
  #kick(actor: RegistrationActor): void {
    if (this.#started.has(actor)) {
      actor.send({ type: 'REGISTER' });
      return;
    }
    this.#started.add(actor);
    actor.start();
  }

  #settle(entries: typeof this.actors, kick: (actor: RegistrationActor) => void): Promise<SiteOutcome[]> {
    return Promise.all(entries.map(({ site, actor }) => new Promise<SiteOutcome>((resolve) => {
      const started = performance.now();
      const sub = actor.on('*', (event: AnyEventObject) => {
        const e = event as RegistrationEmitted;
        const ms = Math.round(performance.now() - started);
        if (e.type === 'registered') {
          sub.unsubscribe();
          resolve({ site: site.name, lfdi: site.lfdi, ok: true, endDevice: e.endDevice, der: e.der, deviceInformation: e.deviceInformation, ms });
        } else if (e.type === 'failed') {
          sub.unsubscribe();
          resolve({ site: site.name, lfdi: site.lfdi, ok: false, failure: e.failure, ms });
        }
      });
      kick(actor);
    })));
  }

  stop(): void {
    for (const { actor } of this.actors) actor.stop();
  }
}
