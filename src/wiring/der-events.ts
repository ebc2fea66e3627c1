/**
 * The DER clients of the registered 2030.5 sites: one chart per site, started once the site is registered (or at
 * start-up when the journal says it is), each announcing its limit on the feed (`grid.limit`, and `gridLimits` in
 * the snapshot), its state as `derClient:<site>`, and a log line for each limit, rejected control, failed poll and response.
 */
import type { DerClientEmitted } from '../../machines/der-client.machine.js';
import type { SiteRegistration } from '../../machines/registration/registration.types.js';
import type { GridLimitPayload } from '../adapters/feed/feed.messages.js';
import type { FeedState } from '../adapters/feed/projection.js';
import type { Journal } from '../adapters/journal/journal.js';
import type { DerClientInput } from '../../machines/der-client.machine.js';
import { createDerClient, type DerClientActor } from '../adapters/sep2/der-client.service.js';
import { Limiter } from '../adapters/sep2/limiter.js';
import type { Sep2Client } from '../adapters/sep2/sep2.client.js';
import type { Logger } from '../logger.js';
import { feedInspection, type Publish } from './feed-wiring.js';
import { evseMetersOf, followSiteLoad, type ReadingSource } from './site-load.js';
import { shareLimit } from '../domain/der-schedule.js';

export interface DerWiring {
  client: Sep2Client;
  state: FeedState;
  /** Keeps each site's controls, defaults and posted responses: applied at boot until the first successful poll. */
  journal?: Journal | undefined;
  publish: Publish;
  log: Logger;
  sites: readonly SiteRegistration[];
  /** Wait before polling again after a failed poll, ms. */
  retryMs?: number | undefined;
  /** Each new limit, with each EVSE's share of it (watts or null), for whatever applies it (the demo's simulated charger). */
  onLimit?: ((limit: GridLimitPayload, share: { meters: string[]; perEvseW: number | null }) => void) | undefined;
  /** The meters' readings: the EVSEs' power, and the site meter's import where a site has one. */
  meters?: readonly ReadingSource[] | undefined;
  /** A charger registering itself (its EVSEs are all the meters but site meters), rather than an aggregator. */
  deviceMode?: boolean | undefined;
  /** How many sites poll at once (an aggregator's fleet); default 8. */
  concurrency?: number | undefined;
}

/** What the journal kept for a site, if it has the expected shape (it is this program's own data). */
function restoredFrom(value: unknown): DerClientInput['restored'] {
  if (typeof value !== 'object' || value === null) return undefined;
  const { programs, responded } = value as { programs?: unknown; responded?: unknown };
  if (!Array.isArray(programs) || typeof responded !== 'object' || responded === null) return undefined;
  return { programs: programs as NonNullable<DerClientInput['restored']>['programs'], responded: responded as Record<string, number[]> };
}

const CONTEXT_KEYS = ['pollFailures', 'lastPollError', 'nextPollAtMs', 'nextEvaluationAtMs', 'outbox', 'limit'] as const;

export function derClients(w: DerWiring) {
  const running = new Map<string, { actor: DerClientActor; endDevice: string; unfollow: () => void }>();
  const limit = new Limiter(w.concurrency ?? 8);
  const meterNames = (w.meters ?? []).map((m) => m.name);
  const siteMeters = new Set(w.sites.flatMap((s) => (s.siteMeter ? [s.siteMeter] : [])));
  const start = (siteName: string, endDevice: string): void => {
    const site = w.sites.find((s) => s.name === siteName);
    const known = running.get(siteName);
    if (!site || known?.endDevice === endDevice) return;
    known?.actor.stop();
    known?.unfollow();
    const evses = evseMetersOf(site, meterNames, w.deviceMode ?? false, siteMeters);
    const machine = `derClient:${siteName}`;
    const log = w.log.child({ site: siteName });
    let restored: DerClientInput['restored'];
    try {
      restored = restoredFrom(w.journal?.derState(siteName, endDevice));
    } catch (error) {
      log.error({ err: (error as Error).message }, 'journal: could not read the DER state kept for this site');
    }
    if (restored) log.info({ programs: restored.programs.length }, 'DER controls kept from before the restart apply until the server is read');
    let saved = '';
    const { actor } = createDerClient({
      client: w.client, site: siteName, lfdi: site.lfdi, endDeviceHref: endDevice, ratedW: site.derCapability.rtgMaxW, retryMs: w.retryMs, restored, limit,
      inspect: feedInspection({ kind: 'derClient', machine, site: siteName }, {
        state: w.state, publish: w.publish,
        summarize: (context) => Object.fromEntries(CONTEXT_KEYS.map((k) => [k, k === 'outbox' ? (context[k] as unknown[] | undefined)?.length ?? 0 : context[k]])),
      }),
    });
    actor.on('*', (event) => {
      const e = event as DerClientEmitted;
      switch (e.type) {
        case 'grid.limit':
          w.state.gridLimits.set(siteName, e.limit);
          w.publish('grid.limit', e.limit);
          w.onLimit?.(e.limit, { meters: evses, perEvseW: shareLimit(e.limit.chargeLimitW, evses.length) });
          log.info({ source: e.limit.source, mrid: e.limit.mrid, chargeLimitW: e.limit.chargeLimitW, validUntil: e.limit.validUntil }, `grid limit: ${e.limit.chargeLimitW === null ? 'none' : `${e.limit.chargeLimitW} W`} (${e.limit.source})`);
          break;
        case 'rejected':
          log.warn({ mrid: e.mrid, status: e.status }, `DER control ${e.mrid} rejected: ${e.reason}`);
          break;
        case 'poll.failed':
          log.warn({ failures: e.failures }, `DER programs could not be read (${e.error}); what is known keeps applying`);
          break;
        case 'response.failed':
          log.warn({ mrid: e.mrid, status: e.status }, `DERControlResponse not posted: ${e.error}`);
          break;
        case 'responded':
          log.debug({ mrid: e.mrid, status: e.status }, 'DERControlResponse posted');
          break;
        case 'persist': {
          const text = JSON.stringify({ programs: e.programs, responded: e.responded });
          if (text === saved) break;
          try {
            w.journal?.saveDerState(siteName, endDevice, { programs: e.programs, responded: e.responded });
            saved = text;
          } catch (error) {
            log.error({ err: (error as Error).message }, 'journal: could not keep the DER state');
          }
          break;
        }
        case 'polled':
          log.debug({ programs: e.programs, controls: e.controls }, 'DER programs read');
          break;
        default:
          break;
      }
    });
    actor.start();
    const unfollow = followSiteLoad(w.meters ?? [], { evses, siteMeter: site.siteMeter }, {
      onLoad: (load) => actor.send({ type: 'SITE_LOAD', load }),
      onStale: (stale) => (stale
        ? log.warn({ siteMeter: site.siteMeter }, 'the site meter has gone quiet: the import limit now caps the charger alone until it reads again')
        : log.info({ siteMeter: site.siteMeter }, 'the site meter reads again: the import limit caps the site')),
    });
    running.set(siteName, { actor, endDevice, unfollow });
  };
  return {
    start,
    stop(): void {
      for (const { actor, unfollow } of running.values()) {
        unfollow();
        actor.stop();
      }
      running.clear();
    },
  };
}
