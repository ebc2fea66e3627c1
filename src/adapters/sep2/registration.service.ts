/**
 * Registers one or many sites: one registration actor per site, all sharing one directory (discovery and the
 * EndDevice index are read once per fleet, so the requests per site do not grow with the number of sites), at most
 * `concurrency` registering at a time; each reports progress, and a start resolves with every site's outcome once
 * each has registered or failed.
 */
import { createActor, type Actor, type ActorOptions, type AnyEventObject } from 'xstate';
import { registrationMachine } from '../../../machines/registration.machine.js';
import type { Failure, RegistrationEmitted, RegistrationPolicy, SiteRegistration, Skip } from '../../../machines/registration/registration.types.js';
import { Sep2Directory } from './directory.js';
import { createRegistrationActors } from './registration.actors.js';
import type { Sep2Client } from './sep2.client.js';

export type SiteOutcome =
  | { site: string; lfdi: string; ok: true; endDevice: string; der: string | undefined; deviceInformation: boolean | undefined; skipped: Skip[]; ms: number }
  | { site: string; lfdi: string; ok: false; failure: Failure; ms: number };

export interface RegisterOptions {
  client: Sep2Client;
  policy: RegistrationPolicy;
  /** Sites registering at the same time (default: all). */
  concurrency?: number | undefined;
  onEvent?: (event: RegistrationEmitted) => void;
  wallClock?: () => number;
}

/** Registers one site with a short-lived actor. */
export async function registerSite(site: SiteRegistration, options: RegisterOptions): Promise<SiteOutcome> {
  return (await registerSites([site], options))[0]!;
}

/** Registers every site with bounded concurrency and one shared directory; outcomes come back in the sites' order. */
export async function registerSites(sites: SiteRegistration[], options: RegisterOptions): Promise<SiteOutcome[]> {
  const fleet = new RegistrationFleet(sites, options);
  try {
    return await fleet.start();
  } finally {
    fleet.stop();
  }
}

export type RegistrationActor = Actor<typeof registrationMachine>;

/**
 * Long-lived registration actors, one per site, for the controller: they register at start, stay in `registered`
 * or `failed` (registering again by themselves an hour after a permanent failure), and register again on demand
 * (the `register` feed command).
 */
export class RegistrationFleet {
  readonly actors: { site: SiteRegistration; actor: RegistrationActor }[];
  readonly directory: Sep2Directory;
  readonly #concurrency: number;
  #active = 0;
  readonly #queue: (() => void)[] = [];

  constructor(
    sites: SiteRegistration[],
    private readonly options: RegisterOptions & { inspectFor?: (site: SiteRegistration) => ActorOptions<typeof registrationMachine>['inspect'] },
  ) {
    this.#concurrency = Math.max(1, options.concurrency ?? Number.POSITIVE_INFINITY);
    this.directory = new Sep2Directory(options.client, { pageSize: options.policy.pageSize, maxPages: options.policy.maxPages });
    const machine = registrationMachine.provide({ actors: createRegistrationActors(options.client, { wallClock: options.wallClock, directory: this.directory }) });
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
    return this.#settle(this.actors.filter((a) => which(a.site)));
  }

  /** Registers again (all sites, or the named one); resolves with the outcomes. */
  register(siteName?: string): Promise<SiteOutcome[]> {
    const chosen = siteName === undefined ? this.actors : this.actors.filter((a) => a.site.name === siteName);
    if (!chosen.length) return Promise.reject(new Error(`no registration site named "${siteName}"`));
    return this.#settle(chosen);
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

  /** Waits for a registration slot (a site holds one from its kick until it has registered or failed). */
  #acquire(): Promise<void> {
    if (this.#active < this.#concurrency) {
      this.#active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#queue.push(resolve));
  }

  #release(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#active -= 1;
  }

  #settle(entries: typeof this.actors): Promise<SiteOutcome[]> {
    return Promise.all(entries.map(async ({ site, actor }) => {
      await this.#acquire();
      // A site gives its slot back once it has registered or failed, or while it waits for out-of-band registration.
      let held = true;
      const release = (): void => {
        if (held) this.#release();
        held = false;
      };
      try {
        return await new Promise<SiteOutcome>((resolve) => {
          const started = performance.now();
          const sub = actor.on('*', (event: AnyEventObject) => {
            const e = event as RegistrationEmitted;
            const ms = Math.round(performance.now() - started);
            if (e.type === 'registered') {
              sub.unsubscribe();
              resolve({ site: site.name, lfdi: site.lfdi, ok: true, endDevice: e.endDevice, der: e.der, deviceInformation: e.deviceInformation, skipped: e.skipped, ms });
            } else if (e.type === 'failed') {
              sub.unsubscribe();
              resolve({ site: site.name, lfdi: site.lfdi, ok: false, failure: e.failure, ms });
            } else if (e.type === 'progress' && e.step === 'awaitOutOfBand') {
              release();
            }
          });
          this.#kick(actor);
        });
      } finally {
        release();
      }
    }));
  }

  stop(): void {
    for (const { actor } of this.actors) actor.stop();
    // Sites still waiting for a slot are started into stopped actors, which do nothing.
    for (const next of this.#queue.splice(0)) next();
  }
}
