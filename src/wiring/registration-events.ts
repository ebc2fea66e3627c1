/**
 * The 2030.5 registration fleet's events into the rest of the controller: each site's status and progress into the
 * feed state and onto the feed, the RegistrationFailed fault raised and cleared, a successful registration into
 * the journal (so a restart with the same data does not register again), and one log line per event.
 */
import type { RegistrationStatus } from '../adapters/feed/feed.messages.js';
import { registrationContextSummary, type FeedState } from '../adapters/feed/projection.js';
import { createHash } from 'node:crypto';
import type { Journal, RegistrationRow } from '../adapters/journal/journal.js';
import type { RegistrationFleet } from '../adapters/sep2/registration.service.js';
import type { Sep2Client, Sep2TlsOptions } from '../adapters/sep2/sep2.client.js';
import type { ControllerConfig } from '../config/controller.config.js';
import type { derClients } from './der-events.js';
import type { MeterDriver } from '../adapters/lem-dcbm/meter.driver.js';
import type { ReadingSource } from './site-load.js';
import type { Logger } from '../logger.js';
import type { RegistrationEmitted, SiteRegistration } from '../../machines/registration/registration.types.js';
import { feedInspection, type Publish } from './feed-wiring.js';

export interface RegistrationWiring {
  state: FeedState;
  publish: Publish;
  journal: Journal;
  log: Logger;
  /** The configured sites, with the LFDI the journal records. */
  sites: readonly { name: string; lfdi: string }[];
  /** Each site's registration fingerprint (server and data), recorded with a registration. */
  fingerprints: ReadonlyMap<string, string>;
}

const now = (): string => new Date().toISOString();

/** A meter's readings, for the DER client's site load. */
const readingSource = ({ name, driver }: { name: string; driver: MeterDriver }): ReadingSource => ({
  name,
  onReading: (listener) => {
    const subscription = driver.actor.on('reading', listener);
    return () => subscription.unsubscribe();
  },
});

export function registrationEvents(w: RegistrationWiring) {
  const { state, publish, journal, log } = w;
  const inspectFor = (site: { name: string }) => feedInspection({ kind: 'registration', machine: `registration:${site.name}`, site: site.name }, {
    state, publish, summarize: registrationContextSummary,
  });
  const onEvent = (e: RegistrationEmitted): void => {
    const source = `registration:${e.site}`;
    const setStatus = (status: RegistrationStatus): void => {
      state.registration.set(e.site, status);
      publish('registration', status);
    };
    if (e.type === 'progress') {
      // The `registered` row (EndDevice, warnings) comes with the registered event, just before this progress.
      if (e.step !== 'registered') state.registration.set(e.site, { site: e.site, status: 'pending', step: e.step });
      publish('registration.progress', { site: e.site, step: e.step, ...(e.detail ? { detail: e.detail } : {}) });
    } else if (e.type === 'registered') {
      setStatus({ site: e.site, status: 'registered', step: 'registered', endDevice: e.endDevice, ...(e.skipped.length ? { warnings: e.skipped } : {}) });
      if (state.clearFault({ source, fault: 'RegistrationFailed' })) publish('fault.cleared', { source, fault: 'RegistrationFailed' });
      log.info({ site: e.site, endDevice: e.endDevice, ...(e.skipped.length ? { skipped: e.skipped.map((k) => k.step) } : {}) }, e.skipped.length ? `registered, with ${e.skipped.length} steps skipped (warned above)` : 'registered');
      const site = w.sites.find((x) => x.name === e.site);
      try {
        if (site) journal.registered({ site: e.site, fingerprint: w.fingerprints.get(e.site)!, lfdi: site.lfdi, endDevice: e.endDevice, der: e.der ?? null });
      } catch (error) {
        log.error({ err: (error as Error).message }, 'journal: could not record the registration');
      }
    } else if (e.type === 'failed') {
      const retryAt = e.retryInMs !== undefined ? new Date(Date.now() + e.retryInMs).toISOString() : undefined;
      setStatus({
        site: e.site, status: 'failed', step: e.failure.step, failure: { code: e.failure.code, message: e.failure.message, reasonCode: e.failure.reasonCode, kind: e.failure.kind },
        ...(retryAt ? { retryAt } : {}),
      });
      const info = { source, fault: 'RegistrationFailed', message: `${e.failure.code}: ${e.failure.message}`, since: now() };
      state.raiseFault(info);
      publish('fault.raised', info);
      log.error({ site: e.site, failure: e.failure, retryAt: retryAt ?? 'only on the register command' },
        `registration failed (${e.failure.code}, permanent: not retried until ${retryAt ?? 'a register command'} or a config change)`);
    } else if (e.type === 'retrying') {
      const nextAttemptAt = new Date(Date.now() + e.delayMs).toISOString();
      setStatus({
        site: e.site, status: 'retrying', step: e.step, attempt: e.attempt, nextAttemptAt,
        lastError: { message: e.error.message, kind: e.error.kind, reason: e.error.reason, status: e.error.status },
      });
      log.warn({ site: e.site, step: e.step, attempt: e.attempt, nextAttemptAt, delayMs: e.delayMs, reason: e.reason }, `registration: ${e.step} failed (attempt ${e.attempt}), next attempt at ${nextAttemptAt}`);
    } else if (e.type === 'skipped') {
      publish('registration.warning', { site: e.site, step: e.step, reason: e.reason });
      log.warn({ site: e.site, step: e.step }, `registration: ${e.step} skipped: ${e.reason}`);
    }
  };
  return { onEvent, inspectFor };
}

/** A site's registration fingerprint: its server and data (a change means registering again). */
export function registrationFingerprint(serverUrl: string, site: SiteRegistration): string {
  return createHash('sha256').update(JSON.stringify({ server: serverUrl, site })).digest('hex');
}

/** The skip rule: a site registered before (journal) with the same fingerprint is not registered again at start-up. */
export function registeredBefore(journal: Journal, site: string, fingerprint: string | undefined): RegistrationRow | undefined {
  const known = journal.registration(site);
  return known && known.fingerprint === fingerprint ? known : undefined;
}

export interface Registration {
  fleet: RegistrationFleet;
  client: Sep2Client;
  /** Registers the sites not registered before, starts the DER clients of those that were. */
  start(): void;
  stop(): Promise<void>;
}

/**
 * 2030.5 registration of the configured sites, with the registration policy: fingerprints, the skip rule, the DER
 * client of each registered site. The 2030.5 stack (XML codec, mTLS client) is loaded only when it is configured.
 */
export async function startRegistration(o: {
  reg: NonNullable<ControllerConfig['registration']>;
  tls: Sep2TlsOptions;
  state: FeedState; publish: Publish; journal: Journal; log: Logger;
  /** The meters: their readings feed the DER clients' site load and the telemetry. */
  meters: readonly { name: string; driver: MeterDriver }[];
  /** Where the telemetry keeps its backlog (`telemetry.sqlite`). */
  stateDir: string;
  onLimit?: Parameters<typeof derClients>[0]['onLimit'];
}): Promise<Registration> {
  const [{ certificateIdentity }, { RegistrationFleet: Fleet }, { Sep2Client: Client }, { registrationPolicy, registrationSites }, { derClients: startDerClients }, { telemetryClients }] = await Promise.all([
    import('../adapters/sep2/identity.js'), import('../adapters/sep2/registration.service.js'), import('../adapters/sep2/sep2.client.js'), import('../config/registration.config.js'),
    import('./der-events.js'), import('./telemetry-events.js'),
  ]);
  const { reg, state, journal } = o;
  const log = o.log.child({ component: 'registration' });
  const client = new Client({ baseUrl: reg.server.url, tls: o.tls, timeoutMs: reg.server.timeoutMs });
  const sites = registrationSites(reg, certificateIdentity(o.tls.certPem).lfdi, (line) => log.warn(line));
  const fingerprints = new Map(sites.map((site) => [site.name, registrationFingerprint(reg.server.url, site)]));
  const { onEvent, inspectFor } = registrationEvents({ state, publish: o.publish, journal, log, sites, fingerprints });
  const deviceMode = reg.mode === 'device';
  // Registered sites report their meters' readings and their DER's status (telemetry), and follow the utility's
  // DER controls; the limit in force is part of what the status reports.
  const telemetry = telemetryClients({
    client, log: o.log.child({ component: 'telemetry' }), stateDir: o.stateDir, sites, meters: o.meters, options: reg.telemetry, dcapPath: reg.server.dcapPath,
    csipaus: reg.server.csipaus === '1.2' || reg.server.csipaus === '1.3' ? reg.server.csipaus : undefined, deviceMode, feed: { state, publish: o.publish },
  });
  const der = reg.policy.derControl === false ? undefined : startDerClients({
    client, state, publish: o.publish, journal, log: o.log.child({ component: 'der' }), sites, retryMs: reg.policy.derPollRetryMs, deviceMode,
    concurrency: reg.policy.concurrency, meters: o.meters.map(readingSource),
    onLimit: (limit, share) => {
      telemetry.limit(limit);
      o.onLimit?.(limit, share);
    },
  });
  const follow = (site: string, endDevice: string): void => {
    der?.start(site, endDevice);
    telemetry.start(site, endDevice);
  };
  const fleet = new Fleet(sites, {
    client, policy: registrationPolicy(reg), concurrency: reg.policy.concurrency ?? 8, inspectFor,
    onEvent: (e) => {
      onEvent(e);
      if (e.type === 'registered') follow(e.site, e.endDevice);
    },
  });
  const already = new Map<string, string>();
  for (const site of sites) {
    const known = registeredBefore(journal, site.name, fingerprints.get(site.name));
    if (known) {
      state.registration.set(site.name, { site: site.name, status: 'registered', step: 'registered', endDevice: known.endDevice });
      already.set(site.name, known.endDevice);
      log.info({ site: site.name, endDevice: known.endDevice, since: known.registeredAt }, 'registered before with the same data (journal): not registering again; the re-register command forces it');
    } else {
      state.registration.set(site.name, { site: site.name, status: 'pending', step: undefined });
    }
  }
  return {
    fleet, client,
    start() {
      for (const [site, endDevice] of already) follow(site, endDevice);
      void fleet.start((site) => !already.has(site.name))
        .then((outcomes) => log.info({ registered: outcomes.filter((r) => r.ok).length, failed: outcomes.filter((r) => !r.ok).length }, 'registration finished'));
    },
    async stop() {
      fleet.stop();
      der?.stop();
      telemetry.stop();
      await client.close();
    },
  };
}
