/**
 * The composition root: config → adapters → charts → feed. One process runs, per configured meter (EVSE), its
 * meter chart and its transaction chart (every step journaled in `<state_dir>/journal.sqlite` before it is answered
 * or published; recovery after a restart is drawn in the transaction chart), the 2030.5 registration (wiring/
 * registration-events), and the WebSocket feed that projects all of them. With no config it first starts the
 * embedded demo (an in-process meter simulator and 2030.5 test server). The feed's HTTP port also serves /healthz
 * and /metrics. `stop()` waits (bounded) until no transaction command runs (the chart's `busy` tag), then closes all.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { closeHttpServer, FeedServer } from './adapters/feed/feed.server.js';
import type { FeedPayloads } from './adapters/feed/feed.messages.js';
import { FeedState } from './adapters/feed/projection.js';
import { assessHealth, healthRoute, journalHealth, meterHealth, type HealthReport } from './adapters/health/health.js';
import { Journal } from './adapters/journal/journal.js';
import { ControllerMetrics, metricsRoute } from './adapters/metrics/metrics.js';
import type { RegistrationFleet } from './adapters/sep2/registration.service.js';
import { resolveConfigFiles } from './config/config-files.js';
import type { ControllerConfig } from './config/controller.config.js';
import type { EmbeddedDemo } from './embedded-demo.js';
import { createInspectorRoutes } from './inspector/serve.js';
import type { Logger } from './logger.js';
import { commandBackend, createMeter, type MeterEntry } from './wiring/meter-events.js';
import { startRegistration, type Registration } from './wiring/registration-events.js';

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
  /** How long after a recovery pass with failed stops the next one runs (default 30 s). */
  recoveryIntervalMs?: number | undefined;
}

export type { MeterEntry };

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
  if (demo) log.info({ meterSimulator: demo.meterSimulator.url(), sep2Server: demo.sep2Server.url, sep2Admin: demo.sep2Server.adminUrl, feedTokenFile: demo.tokenFile },
      'no config given: running the embedded demo against an in-process LEM DCBM simulator and 2030.5 test server (no hardware)');
  const state = new FeedState();
  const journal = Journal.open(join(stateDir, 'journal.sqlite'));
  const meters = new Map<string, MeterEntry>();
  const metrics = new ControllerMetrics();
  let registration: Registration | undefined;
  let stopping = false;

  const health = (): HealthReport => assessHealth({
    meters: [...meters.values()].map((entry) => meterHealth(entry, state.faults.values())), registration: [...state.registration.values()], journal: journalHealth(journal), stopping,
  });
  const routes = [healthRoute(health), metricsRoute(metrics), createInspectorRoutes()];
  const http: Server = createServer((req, res) => {
    if (routes.some((route) => route(req, res))) return;
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: the inspector is at /, the feed at /feed (WebSocket), health at /healthz, metrics at /metrics\n');
  });
  const feed = new FeedServer(http, commandBackend(state, meters, () => registration?.fleet), {
    token: config.feed.token, allowReadOnly: config.feed.allow_read_only, maxPayloadBytes: config.feed.max_payload_bytes,
    maxCommandBytes: config.feed.max_command_bytes, maxBufferedBytes: config.feed.max_buffered_bytes, heartbeatMs: config.feed.heartbeat_ms, log: log.child({ component: 'feed' }),
  });
  const publish = <K extends keyof FeedPayloads>(type: K, payload: FeedPayloads[K]): void => feed.publish(type, payload);

  for (const m of config.meters) {
    meters.set(m.name, createMeter(m, { name: m.name, evseId: m.evse_id, state, publish, metrics, log: log.child({ meter: m.name }), journal, recoveryIntervalMs: options.recoveryIntervalMs }));
  }
  metrics.bind({
    faults: () => state.faults.values(), registration: () => state.registration.values(), feedClients: () => feed.clientCount, feedEvicted: () => feed.evicted,
    journal: () => journalHealth(journal), healthy: () => health().status === 'ok',
    meters: () => [...meters.values()].map((entry) => ({
      meter: entry.name, connected: meterHealth(entry, []).connection === 'connected', openTransactions: state.openTransactions.has(entry.name) ? 1 : 0, stopsPendingRecovery: entry.ledger.failedStops(),
    })),
  });

  if (config.registration) {
    const tls = demo?.registrationTls ?? config.files?.registrationTls;
    if (!tls) throw new Error('registration needs tls.certificate, tls.key and tls.ca (mutual TLS)');
    // In the demo the simulated charger (each EVSE meter) draws up to its share of the grid limit.
    const onLimit = demo ? (_limit: unknown, share: { perEvseW: number | null }) => demo.meterSimulator.device.setPowerLimit(share.perEvseW === null ? undefined : share.perEvseW / 1000) : undefined;
    registration = await startRegistration({
      reg: config.registration, tls, state, publish, journal, log, meters: [...meters.values()], stateDir, onLimit,
    });
  }

  await new Promise<void>((resolve, reject) => http.once('error', reject).listen(config.feed.port, config.feed.host, () => resolve()));
  const address = http.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const feedUrl = `ws://${host}:${address.port}/feed`;
  log.info({ inspector: `http://${host}:${address.port}/`, feed: feedUrl, commands: config.feed.token ? 'token required' : 'disabled (no feed.token)', readOnlyClients: config.feed.allow_read_only }, 'feed listening');

  for (const { driver, ledger } of meters.values()) [ledger.actor, driver.actor].forEach((actor) => actor.start());
  registration?.start();

  const graceMs = options.shutdownGraceMs ?? 10_000;
  return {
    config, feedUrl, httpUrl: `http://${host}:${address.port}`, meters, fleet: registration?.fleet, demo, feed, journal, metrics, health,
    async stop() {
      stopping = true;
      feed.stopAccepting();
      // An in-flight start or stop may finish; one that cannot in time is in the journal and recovered at the next start.
      await Promise.all([...meters.values()].map(async ({ name, ledger, driver }) => {
        if (!(await ledger.settle(graceMs))) log.warn({ meter: name }, 'a transaction command did not finish before shutdown: the journal has it, the next start recovers it');
        else if (driver.actor.getSnapshot().matches({ operational: { transaction: 'running' } })) log.warn({ meter: name }, 'a transaction stays open on the meter; it is found again at the next start');
      }));
      for (const { driver, ledger } of meters.values()) {
        ledger.close();
        await driver.stop();
      }
      await registration?.stop();
      await feed.close();
      await closeHttpServer(http);
      journal.close();
      await demo?.close();
    },
  };
}
