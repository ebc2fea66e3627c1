/**
 * The 2030.5 registration fleet's events into the rest of the controller: each site's status and progress into the
 * feed state and onto the feed, the RegistrationFailed fault raised and cleared, a successful registration into
 * the journal (so a restart with the same data does not register again), and one log line per event.
 */
import type { RegistrationStatus } from '../adapters/feed/feed.messages.js';
import { registrationContextSummary, type FeedState } from '../adapters/feed/projection.js';
import type { Journal } from '../adapters/journal/journal.js';
import type { Logger } from '../logger.js';
import type { RegistrationEmitted } from '../../machines/registration/registration.types.js';
import { transitions, type Publish } from './feed-wiring.js';

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

export function registrationEvents(w: RegistrationWiring) {
  const { state, publish, journal, log } = w;
  const inspectFor = (site: { name: string }) => transitions(({ from, to, event, leaves, context }) => {
    const machine = `registration:${site.name}`;
    state.machines.set(machine, { machine, state: leaves, context: registrationContextSummary(context) });
    publish('state', { machine, from, to, event });
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
