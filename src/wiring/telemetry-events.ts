/**
 * The telemetry of the registered 2030.5 sites: one telemetry chart per site (machines/telemetry.machine.ts), started
 * with the site's DER client once it is registered, fed by the meters' readings (`driver.actor.on('reading')`), their
 * communication faults and transactions, and the grid limit in force (`limit(...)`, from the DER client's
 * `onLimit`). The backlog is `<stateDir>/telemetry.sqlite`. Each post is logged at debug; failures at warn.
 *
 * Which meters are a site's: its `meters` when configured, else (a charger registering itself) every meter but site
 * meters. The site's `siteMeter` gives its site readings; without one the site readings are the charger's own.
 */
import { join } from 'node:path';
import type { SiteRegistration } from '../../machines/registration/registration.types.js';
import type { MeterEmitted } from '../../machines/meter/meter.types.js';
import type { MeterActor } from '../adapters/lem-dcbm/meter.driver.js';
import type { Sep2Client } from '../adapters/sep2/sep2.client.js';
import type { CsipausVersion } from '../adapters/sep2/xml.js';
import { BacklogStore } from '../adapters/telemetry/backlog.store.js';
import { telemetryOptions, type TelemetryOptions } from '../adapters/telemetry/telemetry.options.js';
import { MirrorDirectory } from '../adapters/telemetry/mirror-locator.js';
import { createTelemetryClient, type TelemetryActor } from '../adapters/telemetry/telemetry.service.js';
import { Limiter } from '../adapters/sep2/limiter.js';
import type { DerSettingsData } from '../domain/sep2-resources.js';
import type { DerCondition } from '../domain/telemetry-status.js';
import { readingTypes } from '../domain/telemetry.js';
import type { Logger } from '../logger.js';
import type { TelemetryEmitted } from '../../machines/telemetry.machine.js';
import { evseMetersOf } from './site-load.js';
import { feedInspection, type Publish } from './feed-wiring.js';
import type { FeedState } from '../adapters/feed/projection.js';

export interface TelemetryWiring {
  client: Sep2Client;
  log: Logger;
  stateDir: string;
  sites: readonly SiteRegistration[];
  meters: readonly { name: string; driver: { actor: MeterActor } }[];
  /** `registration.telemetry` as it is in the parsed config (absent: every default). */
  options?: unknown;
  /** The DeviceCapability path (`registration.server.dcapPath`). */
  dcapPath?: string | undefined;
  /** The server's CSIP-AUS namespace when known; else the one its DERList declares. */
  csipaus?: CsipausVersion | undefined;
  /** A charger registering itself: a site's meters default to every meter but site meters (aggregator sites: none). */
  deviceMode?: boolean | undefined;
  now?: () => number;
  /** Each reading posted, with the site's count so far (for a feed message or metric). */
  onPosted?: ((site: string, total: number) => void) | undefined;
  /** The DERSettings to report for a site (default: the registration's `device.der.settings`), e.g. from the DER client. */
  derSettings?: ((site: string) => DerSettingsData | undefined) | undefined;
  /** The feed: each site's chart as `telemetry:<site>` (its state in the snapshot, and `chart` to subscribers). */
  feed?: { state: FeedState; publish: Publish } | undefined;
}

const CONTEXT_KEYS = ['postRateS', 'queued', 'posted', 'postFailures', 'lastError', 'mirrorsKnown', 'nextReportAtMs'] as const;

export interface GridLimitLike {
  site: string;
  chargeLimitW: number | null;
  connect: boolean | null;
  energize: boolean | null;
}

interface MeterState {
  connected: boolean;
  charging: boolean;
  powerW: number;
}

export function telemetryClients(w: TelemetryWiring) {
  const options: TelemetryOptions = telemetryOptions(w.options);
  const now = w.now ?? Date.now;
  const types = readingTypes(options.reactivePower);
  const limiter = new Limiter(options.concurrency);
  const directory = new MirrorDirectory(w.client, { dcapPath: w.dcapPath ?? '/dcap', now });
  let store: BacklogStore | undefined;
  const running = new Map<string, { actor: TelemetryActor; endDevice: string; meters: readonly string[] }>();
  const limits = new Map<string, GridLimitLike>();
  const posted = new Map<string, number>();
  const meterState = new Map<string, MeterState>(w.meters.map((m) => [m.name, { connected: false, charging: false, powerW: 0 }]));
  // A site's meters and its site meter (`meters`, `siteMeter` of the site's config, checked against the meters).
  const names = w.meters.map((m) => m.name);
  const allSiteMeters = new Set(w.sites.flatMap((s) => (s.siteMeter ? [s.siteMeter] : [])));
  const registrationOf = (site: string) => w.sites.find((s) => s.name === site);
  const siteMeterOf = (site: string): string | undefined => registrationOf(site)?.siteMeter;
  const metersOf = (site: string): readonly string[] => {
    const registration = registrationOf(site);
    return registration ? evseMetersOf(registration, names, w.deviceMode ?? true, allSiteMeters) : [];
  };

  const condition = (site: string, ratedW: number): DerCondition => {
    const mine = metersOf(site).map((m) => meterState.get(m)).filter((m): m is MeterState => m !== undefined);
    const limit = limits.get(site);
    return {
      meterConnected: mine.some((m) => m.connected), charging: mine.some((m) => m.connected && m.charging), powerW: mine.reduce((s, m) => s + (m.connected ? m.powerW : 0), 0),
      ratedW, chargeLimitW: limit?.chargeLimitW ?? null, connect: limit?.connect ?? null, energize: limit?.energize ?? null,
    };
  };
  const sendCondition = (site: string): void => {
    const entry = running.get(site);
    const registration = w.sites.find((s) => s.name === site);
    if (entry && registration) entry.actor.send({ type: 'CONDITION', condition: condition(site, registration.derCapability.rtgMaxW), atMs: now() });
  };
  const forMeter = (meter: string, each: (site: string, actor: TelemetryActor) => void): void => {
    for (const [site, entry] of running) if (entry.meters.includes(meter) || siteMeterOf(site) === meter) each(site, entry.actor);
  };

  const subscriptions = w.meters.map(({ name, driver }) => {
    // What the meter does is learnt from what it emits (its public events), never from its chart's state names.
    const state = meterState.get(name)!;
    return driver.actor.on('*', (event) => {
      const e = event as MeterEmitted;
      switch (e.type) {
        case 'reading': {
          state.connected = true;
          state.powerW = e.reading.power_W.total;
          const atMs = now();
          forMeter(name, (site, actor) => {
            actor.send({ type: 'READING', meter: name, atMs, powerW: e.reading.power_W.total, voltageV: e.reading.voltage_V.DC });
            sendCondition(site);
          });
          break;
        }
        case 'fault.raised':
          if (e.fault !== 'CommunicationFault' && e.fault !== 'InitFailed') break;
          state.connected = false;
          forMeter(name, (site, actor) => {
            actor.send({ type: 'METER_LOST', meter: name, atMs: now() });
            sendCondition(site);
          });
          break;
        case 'transaction.started':
          if (e.response.status !== 'OK') break;
          state.charging = true;
          forMeter(name, (site) => sendCondition(site));
          break;
        case 'transaction.stopped':
          state.charging = false;
          forMeter(name, (site) => sendCondition(site));
          break;
        default:
          break;
      }
    });
  });

  const start = (siteName: string, endDevice: string): void => {
    if (!options.enabled) return;
    const site = w.sites.find((s) => s.name === siteName);
    const known = running.get(siteName);
    if (!site || known?.endDevice === endDevice) return;
    known?.actor.stop();
    store ??= BacklogStore.open(join(w.stateDir, 'telemetry.sqlite'));
    const log = w.log.child({ site: siteName });
    const meters = metersOf(siteName);
    const { actor } = createTelemetryClient({
      client: w.client, store, limiter, directory, site: siteName, lfdi: site.lfdi, endDeviceHref: endDevice, pen: options.pen, types,
      roles: { derMeters: meters, siteMeter: siteMeterOf(siteName) }, condition: condition(siteName, site.derCapability.rtgMaxW),
      settings: () => (w.derSettings ? w.derSettings(siteName) : site.derSettings), csipaus: w.csipaus, maxIntervals: options.backlogIntervals, defaultPostRateS: options.defaultPostRateS, retryMs: options.retryMs, now,
      onPost: (row, latencyMs) => {
        const total = (posted.get(siteName) ?? 0) + 1;
        posted.set(siteName, total);
        log.debug({ role: row.role, type: row.type, start: row.startS, duration: row.durationS, value: row.value, latencyMs }, 'MirrorMeterReading posted');
        w.onPosted?.(siteName, total);
      },
      onDrop: (row, error) => log.warn({ role: row.role, type: row.type, start: row.startS }, `MirrorMeterReading refused by the server, dropped: ${error.message}`),
      ...(w.feed ? {
        inspect: feedInspection({ kind: 'telemetry', machine: `telemetry:${siteName}`, site: siteName }, {
          state: w.feed.state, publish: w.feed.publish, summarize: (context) => Object.fromEntries(CONTEXT_KEYS.map((k) => [k, context[k]])),
        }),
      } : {}),
    });
    actor.on('*', (event) => {
      const e = event as TelemetryEmitted;
      switch (e.type) {
        case 'mirrors.ready':
          log.debug({ postRateS: e.postRateS, listPollRateS: e.listPollRateS }, 'MirrorUsagePoints located');
          break;
        case 'mirrors.failed':
          log.warn(`MirrorUsagePoints could not be located (${e.error}); readings are kept and posted once they are`);
          break;
        case 'stored':
          if (e.dropped > 0) log.warn({ dropped: e.dropped, queued: e.queued }, `telemetry backlog full (${options.backlogIntervals} intervals): the oldest readings were dropped`);
          break;
        case 'store.failed':
          log.error(`telemetry backlog: could not keep the interval's readings (${e.error})`);
          break;
        case 'post.failed':
          log.warn({ failures: e.failures, queued: e.queued }, `telemetry not posted (${e.error}); kept and posted in order when the server is back`);
          break;
        case 'reported':
          log.debug({ ...e.report }, 'DERStatus, DERAvailability and DERSettings reported');
          break;
        case 'report.failed':
          log.warn(`DER status could not be reported (${e.error})`);
          break;
        default:
          break;
      }
    });
    running.set(siteName, { actor, endDevice, meters });
    actor.start();
  };

  return {
    start,
    /** The grid limit in force for a site (the DER client's `onLimit`): what DERStatus reports follows it. */
    limit(limit: GridLimitLike): void {
      limits.set(limit.site, limit);
      sendCondition(limit.site);
    },
    /** MirrorMeterReadings posted so far, per site. */
    posted: (): ReadonlyMap<string, number> => posted,
    /** Per site: readings posted, readings waiting in the backlog, the post rate, the last failure (for the feed or metrics). */
    status(): Record<string, { posted: number; queued: number; postRateS: number | undefined; lastError: string | undefined }> {
      return Object.fromEntries([...running].map(([site, { actor }]) => {
        const { context } = actor.getSnapshot();
        return [site, { posted: posted.get(site) ?? 0, queued: context.queued, postRateS: context.postRateS, lastError: context.lastError }];
      }));
    },
    /** The running charts (the inspector, tests). */
    actors: (): ReadonlyMap<string, TelemetryActor> => new Map([...running].map(([site, entry]) => [site, entry.actor])),
    /** Stops every chart and closes the backlog; nothing in flight is waited for (what is unposted stays in the backlog). */
    stop(): void {
      for (const { actor } of running.values()) actor.stop();
      running.clear();
      for (const sub of subscriptions) sub.unsubscribe();
      store?.close();
      store = undefined;
    },
  };
}
