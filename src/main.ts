/**
 * The composition root: config → adapters → `machine.provide(...)` → actors → feed. One process runs one meter
 * actor per configured meter (EVSE), the registration actors, and the WebSocket feed that projects all of them.
 * With no config it first starts the embedded demo (an in-process meter simulator and 2030.5 test server).
 * Every transaction step goes through the journal (`<state_dir>/journal.sqlite`) before and after it reaches the
 * meter; after a restart each meter's ledger settles what the journal left unfinished once the meter is connected.
 * The feed's HTTP port also serves /healthz (adapters/health) and /metrics (adapters/metrics); how each meter's and
 * site's events reach the feed, journal, log and metrics is in wiring/.
 * `stop()` lets an in-flight start or stop finish (bounded; an unfinished one is in the journal), then closes all.
 */
import { createHash } from 'node:crypto';
import { resolveConfigFiles } from './config/config-files.js';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FeedServer, type FeedBackend } from './adapters/feed/feed.server.js';
import type { FeedPayloads } from './adapters/feed/feed.messages.js';
import { FeedState } from './adapters/feed/projection.js';
import { assessHealth, healthRoute, journalHealth, meterHealth, type HealthReport } from './adapters/health/health.js';
import { createMeterDriver, type MeterDriver } from './adapters/lem-dcbm/meter.driver.js';
import { ControllerMetrics, metricsRoute } from './adapters/metrics/metrics.js';
import type { RegistrationFleet } from './adapters/sep2/registration.service.js';
import type { Sep2Client } from './adapters/sep2/sep2.client.js';
import { Journal } from './adapters/journal/journal.js';
import { MeterLedger } from './adapters/journal/ledger.js';
import type { ControllerConfig } from './config/controller.config.js';
import type { EmbeddedDemo } from './embedded-demo.js';
import { createInspectorRoutes } from './inspector/serve.js';
import type { Logger } from './logger.js';
import { meterInspection, wireMeterEvents } from './wiring/meter-events.js';
import type { derClients } from './wiring/der-events.js';
import { registrationEvents } from './wiring/registration-events.js';

export interface StartOptions {
  /** Undefined: the embedded demo. */
  config?: ControllerConfig | undefined;
  log: Logger;
  /** Overrides feed.port (0 = a free port). */
  feedPort?: number | undefined;
  /** Overrides every meter's warm-up (demos and tests; the real 2 minutes apply by default). */
  warmupMs?: number | undefined;
  stateDir?: string | undefined;
  /** How long shutdown waits for an in-flight start or stop. */
  shutdownGraceMs?: number | undefined;
  /** How often failed stops are tried again (default 30 s). */
  recoveryIntervalMs?: number | undefined;
}

export interface MeterEntry {
  name: string;
  evseId: string;
  driver: MeterDriver;
  ledger: MeterLedger;
}

export interface Controller {
  readonly config: ControllerConfig;
  readonly feedUrl: string;
  readonly httpUrl: string;
  readonly meters: Map<string, MeterEntry>;
  readonly fleet: RegistrationFleet | undefined;
  readonly demo: EmbeddedDemo | undefined;
  readonly feed: FeedServer;
  readonly journal: Journal;
  readonly metrics: ControllerMetrics;
  /** What /healthz answers. */
  health(): HealthReport;
  stop(): Promise<void>;
}

const now = (): string => new Date().toISOString();

export async function startController(options: StartOptions): Promise<Controller> {
  const { log } = options;
  const stateDir = options.stateDir ?? options.config?.stateDir ?? '.charger-controller';
  // The simulators are loaded only for the demo: a deployed controller does not carry them in memory.
  const demo = options.config
    ? undefined
    : await (await import('./embedded-demo.js')).startEmbeddedDemo({ stateDir, feedPort: options.feedPort ?? 8787, warmupMs: options.warmupMs });
  // Every file the config names is read and checked once, before anything connects (as `config check` does).
  const base = options.config ? await resolveConfigFiles(options.config, 'config', options.stateDir) : demo!.config;
  const config: ControllerConfig = {
    ...base,
    meters: base.meters.map((m) => (options.warmupMs !== undefined ? { ...m, warmup_ms: options.warmupMs } : m)),
    feed: { ...base.feed, ...(options.feedPort !== undefined ? { port: options.feedPort } : {}) },
  };
  if (demo) {
    log.info({ meterSimulator: demo.meterSimulator.url(), sep2Server: demo.sep2Server.url, sep2Admin: demo.sep2Server.adminUrl, feedTokenFile: demo.tokenFile },
      'no config given: running the embedded demo against an in-process LEM DCBM simulator and 2030.5 test server (no hardware)');
  }
  const state = new FeedState();
  const journal = Journal.open(join(stateDir, 'journal.sqlite'));
  const meters = new Map<string, MeterEntry>();
  let fleet: RegistrationFleet | undefined;
  const alreadyRegistered = new Set<string>();
  const metrics = new ControllerMetrics();
  let stopping = false;

  // ---- feed ----
  const backend: FeedBackend = {
    snapshot: (canCommand) => state.snapshot(canCommand),
    async execute(command) {
      if (command.type === 'register' || command.type === 're-register') {
        if (!fleet) throw new Error('2030.5 registration is not configured');
        return fleet.register(command.site);
      }
      const entry = command.meter !== undefined ? meters.get(command.meter) : meters.size === 1 ? [...meters.values()][0] : undefined;
      if (!entry) throw new Error(command.meter !== undefined ? `no meter named "${command.meter}"; meters: ${[...meters.keys()].join(', ')}` : `name the meter: ${[...meters.keys()].join(', ')}`);
      return command.type === 'start_transaction' ? entry.ledger.start(command.request) : entry.ledger.stop(command.transactionId);
    },
  };
  const health = (): HealthReport => assessHealth({
    meters: [...meters.values()].map((entry) => meterHealth(entry, state.faults.values())), registration: [...state.registration.values()], journal: journalHealth(journal), stopping,
  });
  const routes = [healthRoute(health), metricsRoute(metrics), createInspectorRoutes()];
  const http: Server = createServer((req, res) => {
    if (routes.some((route) => route(req, res))) return;
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: the inspector is at /, the feed at /feed (WebSocket), health at /healthz, metrics at /metrics\n');
  });
  const feed = new FeedServer(http, backend, {
    token: config.feed.token, allowReadOnly: config.feed.allow_read_only, maxPayloadBytes: config.feed.max_payload_bytes,
    maxCommandBytes: config.feed.max_command_bytes, maxBufferedBytes: config.feed.max_buffered_bytes, heartbeatMs: config.feed.heartbeat_ms, log: log.child({ component: 'feed' }),
  });
  const publish = <K extends keyof FeedPayloads>(type: K, payload: FeedPayloads[K]): void => feed.publish(type, payload);

  // ---- meters ----

  for (const meterConfig of config.meters) {
    const name = meterConfig.name;
    const evseId = meterConfig.evse_id;
    const wiring = { name, evseId, state, publish, metrics, log: log.child({ meter: name }) };
    const driver = createMeterDriver(meterConfig, { inspect: meterInspection(wiring), observeRequest: (o) => metrics.meterRequest(name, o) });
    const ledger = new MeterLedger({
      meter: name, evseId, driver, journal, log: wiring.log,
      publish: (payload) => {
        state.rememberRecord(payload);
        publish('transaction.stopped', payload);
      },
      onAdopted: (transactionId) => state.openTransactions.set(name, { meter: name, evseId, transactionId, startedAt: now() }),
    });
    meters.set(name, { name, evseId, driver, ledger });
    state.readings.set(name, null);
    for (const row of journal.transactions({ meter: name, states: ['open'] })) {
      state.openTransactions.set(name, { meter: name, evseId, transactionId: row.transactionId, startedAt: row.createdAt });
    }
    wireMeterEvents({ ...wiring, driver, ledger });
  }
  metrics.bind({
    faults: () => state.faults.values(),
    registration: () => state.registration.values(),
    meters: () => [...meters.values()].map((entry) => ({
      meter: entry.name, connected: meterHealth(entry, []).connection === 'connected',
      openTransactions: state.openTransactions.has(entry.name) ? 1 : 0, stopsPendingRecovery: entry.ledger.failedStops().length,
    })),
    feedClients: () => feed.clientCount,
    feedEvicted: () => feed.evicted,
    journal: () => journalHealth(journal),
    healthy: () => health().status === 'ok',
  });

  // ---- 2030.5 registration ----
  let sep2Client: Sep2Client | undefined;
  let der: ReturnType<typeof derClients> | undefined;
  if (config.registration) {
    // The 2030.5 stack (XML codec, mTLS client) is loaded only when registration is configured.
    const [{ certificateIdentity }, { RegistrationFleet }, { Sep2Client }, { registrationPolicy, registrationSites }, { derClients: startDerClients }] = await Promise.all([
      import('./adapters/sep2/identity.js'), import('./adapters/sep2/registration.service.js'), import('./adapters/sep2/sep2.client.js'), import('./config/registration.config.js'),
      import('./wiring/der-events.js'),
    ]);
    const reg = config.registration;
    const tls = demo?.registrationTls ?? config.files?.registrationTls;
    if (!tls) throw new Error('registration needs tls.certificate, tls.key and tls.ca (mutual TLS)');
    sep2Client = new Sep2Client({ baseUrl: reg.server.url, tls, timeoutMs: reg.server.timeoutMs });
    const sites = registrationSites(reg, certificateIdentity(tls.certPem).lfdi, (line) => log.warn(line));
    // A site registered before with the same data at the same server is not registered again at start-up.
    const fingerprints = new Map(sites.map((site) => [site.name, createHash('sha256').update(JSON.stringify({ server: reg.server.url, site })).digest('hex')]));
    const regLog = log.child({ component: 'registration' });
    const { onEvent, inspectFor } = registrationEvents({ state, publish, journal, log: regLog, sites, fingerprints });
    // Registered sites follow the utility's DER controls; in the demo the simulated charger draws up to the limit.
    der = reg.policy.derControl === false ? undefined : startDerClients({
      client: sep2Client, state, publish, journal, log: log.child({ component: 'der' }), sites, retryMs: reg.policy.derPollRetryMs,
      onLimit: demo ? (limit) => demo.meterSimulator.device.setPowerLimit(limit.chargeLimitW === null ? undefined : limit.chargeLimitW / 1000 / Math.max(1, meters.size)) : undefined,
    });
    fleet = new RegistrationFleet(sites, {
      client: sep2Client, policy: registrationPolicy(reg), concurrency: reg.policy.concurrency ?? 8, inspectFor,
      onEvent: (e) => {
        onEvent(e);
        if (e.type === 'registered') der?.start(e.site, e.endDevice);
      },
    });
    for (const site of sites) {
      const known = journal.registration(site.name);
      if (known && known.fingerprint === fingerprints.get(site.name)) {
        state.registration.set(site.name, { site: site.name, status: 'registered', step: 'registered', endDevice: known.endDevice });
        alreadyRegistered.add(site.name);
        regLog.info({ site: site.name, endDevice: known.endDevice, since: known.registeredAt }, 'registered before with the same data (journal): not registering again; the re-register command forces it');
      } else {
        state.registration.set(site.name, { site: site.name, status: 'pending', step: undefined });
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.feed.port, config.feed.host, () => resolve());
  });
  const address = http.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const feedUrl = `ws://${host}:${address.port}/feed`;
  log.info({ inspector: `http://${host}:${address.port}/`, feed: feedUrl, commands: config.feed.token ? 'token required' : 'disabled (no feed.token)', readOnlyClients: config.feed.allow_read_only }, 'feed listening');

  for (const { driver } of meters.values()) driver.actor.start();
  for (const site of alreadyRegistered) {
    const endDevice = state.registration.get(site)?.endDevice;
    if (endDevice) der?.start(site, endDevice);
  }
  if (fleet) {
    void fleet.start((site) => !alreadyRegistered.has(site.name)).then((outcomes) => log.info({ registered: outcomes.filter((o) => o.ok).length, failed: outcomes.filter((o) => !o.ok).length }, 'registration finished'));
  }

  // Failed stops (the meter was unreachable) and rows a pass had to leave are tried again until settled.
  const recoveryTimer = setInterval(() => {
    for (const { ledger, driver } of meters.values()) {
      if (driver.actor.getSnapshot().matches('operational') && ledger.needsRecovery()) void ledger.recover();
    }
  }, options.recoveryIntervalMs ?? 30_000);
  recoveryTimer.unref();

  const graceMs = options.shutdownGraceMs ?? 10_000;
  return {
    config, feedUrl, httpUrl: `http://${host}:${address.port}`, meters, fleet, demo, feed, journal, metrics, health,
    async stop() {
      stopping = true;
      feed.stopAccepting();
      clearInterval(recoveryTimer);
      await Promise.all([...meters.values()].map((entry) => finishOrLeave(entry, graceMs, log)));
      for (const { driver } of meters.values()) await driver.stop();
      fleet?.stop();
      der?.stop();
      await sep2Client?.close();
      await feed.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      journal.close();
      await demo?.close();
    },
  };
}

/** Waits for an in-flight start or stop; one that cannot finish in time is in the journal and is recovered at the next start. */
async function finishOrLeave(entry: MeterEntry, graceMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (entry.driver.busy() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const snapshot = entry.driver.actor.getSnapshot();
  if (entry.driver.busy()) {
    log.warn({ meter: entry.name, transactionId: snapshot.context.stop?.transactionId ?? snapshot.context.currentTxId }, 'a transaction command did not finish before shutdown: the journal has it, the next start recovers it');
  } else if (snapshot.matches({ operational: { transaction: 'running' } })) {
    log.warn({ meter: entry.name, transactionId: snapshot.context.currentTxId }, 'a transaction stays open on the meter; it is found again at the next start');
  }
}
