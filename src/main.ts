/**
 * The composition root: config → adapters → `machine.provide(...)` → actors → feed. One process runs one meter
 * actor per configured meter (EVSE), the registration actors, and the WebSocket feed that projects all of them.
 * With no config it first starts the embedded demo (an in-process meter simulator and 2030.5 test server).
 * Every transaction step goes through the journal (`<state_dir>/journal.sqlite`) before and after it reaches the
 * meter; after a restart each meter's ledger settles what the journal left unfinished once the meter is connected.
 * `stop()` lets an in-flight start or stop finish (bounded; an unfinished one is in the journal), then closes all.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AnyEventObject, InspectionEvent } from 'xstate';
import { FeedServer, type FeedBackend } from './adapters/feed/feed.server.js';
import type { FeedPayloads, RegistrationStatus } from './adapters/feed/feed.messages.js';
import { FeedState, leafStates, meterContextSummary, registrationContextSummary, transition } from './adapters/feed/projection.js';
import { createMeterDriver, type MeterDriver } from './adapters/lem-dcbm/meter.driver.js';
import type { RegistrationFleet } from './adapters/sep2/registration.service.js';
import type { Sep2Client } from './adapters/sep2/sep2.client.js';
import { Journal } from './adapters/journal/journal.js';
import { MeterLedger } from './adapters/journal/ledger.js';
import type { ControllerConfig } from './config/controller.config.js';
import type { RegistrationEmitted } from '../machines/registration/registration.types.js';
import type { MeterEmitted } from '../machines/meter/meter.types.js';
import type { EmbeddedDemo } from './embedded-demo.js';
import { createInspectorRoutes } from './inspector/serve.js';
import type { Logger } from './logger.js';

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
  stop(): Promise<void>;
}

const now = (): string => new Date().toISOString();

/** Follows a root actor's snapshots through inspection and reports each change of its active leaves. */
function transitions(onChange: (change: { from: string[]; to: string[]; event: string; leaves: string[]; context: Record<string, unknown> }) => void) {
  let previous: string[] = [];
  return (ev: InspectionEvent): void => {
    if (ev.type !== '@xstate.snapshot' || ev.actorRef.sessionId !== ev.rootId) return;
    const snapshot = ev.snapshot as { value?: unknown; context?: Record<string, unknown> };
    if (snapshot.value === undefined) return;
    const leaves = leafStates(snapshot.value as never);
    const t = transition(previous, leaves);
    previous = leaves;
    if (t) onChange({ ...t, event: ev.event.type, leaves, context: snapshot.context ?? {} });
  };
}

export async function startController(options: StartOptions): Promise<Controller> {
  const { log } = options;
  const stateDir = options.stateDir ?? options.config?.stateDir ?? '.charger-controller';
  // The simulators are loaded only for the demo: a deployed controller does not carry them in memory.
  const demo = options.config
    ? undefined
    : await (await import('./embedded-demo.js')).startEmbeddedDemo({ stateDir, feedPort: options.feedPort ?? 8787, warmupMs: options.warmupMs });
  const base = options.config ?? demo!.config;
  const config: ControllerConfig = {
    ...base,
    meters: base.meters.map((m) => (options.warmupMs !== undefined ? { ...m, warmup_ms: options.warmupMs } : m)),
    feed: { ...base.feed, ...(options.feedPort !== undefined ? { port: options.feedPort } : {}) },
  };
  if (demo) {
    log.info({ meterSimulator: demo.meterSimulator.url(), sep2Server: demo.sep2Server.url, feedTokenFile: demo.tokenFile },
      'no config given: running the embedded demo against an in-process LEM DCBM simulator and 2030.5 test server (no hardware)');
  }
  const state = new FeedState();
  const journal = Journal.open(join(stateDir, 'journal.sqlite'));
  const meters = new Map<string, MeterEntry>();
  let fleet: RegistrationFleet | undefined;
  const alreadyRegistered = new Set<string>();

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
  const inspector = createInspectorRoutes();
  const http: Server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    if (inspector(req, res)) return;
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: the inspector is at /, the feed at /feed (WebSocket)\n');
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
    const source = `meter:${name}`;
    const meterLog = log.child({ meter: name });
    const driver = createMeterDriver(meterConfig, {
      inspect: transitions(({ from, to, event, leaves, context }) => {
        state.machines.set(source, { machine: source, meter: name, evseId, state: leaves, context: meterContextSummary(context) });
        publish('state', { machine: source, meter: name, evseId, from, to, event });
        meterLog.debug({ from, to, event }, 'state');
      }),
    });
    const ledger = new MeterLedger({
      meter: name, evseId, driver, journal, log: meterLog,
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
    driver.actor.on('*', (emitted: AnyEventObject) => {
      const event = emitted as MeterEmitted;
      switch (event.type) {
        case 'reading':
          state.readings.set(name, event.reading);
          publish('reading', { meter: name, evseId, reading: event.reading });
          meterLog.trace({ reading: event.reading }, 'reading');
          break;
        case 'identity':
          meterLog.info({ meterId: event.meterId, firmware: event.firmware, api: event.api }, 'meter connected');
          void ledger.recover();
          break;
        case 'transaction.started':
          ledger.onStarted(event);
          if (event.response.status === 'OK') state.openTransactions.set(name, { meter: name, evseId, transactionId: event.transactionId, startedAt: now() });
          publish('transaction.started', { meter: name, evseId, transactionId: event.transactionId, response: event.response });
          meterLog.info({ transactionId: event.transactionId, status: event.response.status, error: event.response.error }, 'transaction start');
          break;
        case 'transaction.stopped': {
          const ok = event.response.status === 'OK';
          if (ok && state.openTransactions.get(name)?.transactionId === event.transactionId) state.openTransactions.delete(name);
          ledger.onStopped(event);
          meterLog.info({ transactionId: event.transactionId, status: event.response.status, final: event.final, error: event.response.error }, 'transaction stop');
          break;
        }
        case 'fault.raised': {
          const info = { source, fault: event.fault, message: event.message, since: now() };
          state.raiseFault(info);
          publish('fault.raised', info);
          meterLog.warn({ fault: event.fault, everest: event.everest, message: event.message }, 'fault raised');
          break;
        }
        case 'fault.cleared':
          if (state.clearFault({ source, fault: event.fault })) publish('fault.cleared', { source, fault: event.fault });
          meterLog.info({ fault: event.fault }, 'fault cleared');
          break;
        case 'warning':
          meterLog.warn(event.message);
          break;
        default:
          break;
      }
    });
  }

  // ---- 2030.5 registration ----
  let sep2Client: Sep2Client | undefined;
  if (config.registration) {
    // The 2030.5 stack (XML codec, mTLS client) is loaded only when registration is configured.
    const [{ certificateIdentity }, { RegistrationFleet }, { Sep2Client }, { registrationPolicy, registrationSites }] = await Promise.all([
      import('./adapters/sep2/identity.js'), import('./adapters/sep2/registration.service.js'), import('./adapters/sep2/sep2.client.js'), import('./config/registration.config.js'),
    ]);
    const reg = config.registration;
    const tls = demo?.registrationTls ?? (reg.tls
      ? { certPem: await readFile(reg.tls.certificate, 'utf8'), keyPem: await readFile(reg.tls.key, 'utf8'), caPem: await readFile(reg.tls.ca, 'utf8') }
      : undefined);
    if (!tls) throw new Error('registration needs tls.certificate, tls.key and tls.ca (mutual TLS)');
    sep2Client = new Sep2Client({ baseUrl: reg.server.url, tls, timeoutMs: reg.server.timeoutMs });
    const sites = registrationSites(reg, certificateIdentity(tls.certPem).lfdi, (line) => log.warn(line));
    // A site registered before with the same data at the same server is not registered again at start-up.
    const fingerprints = new Map(sites.map((site) => [site.name, createHash('sha256').update(JSON.stringify({ server: reg.server.url, site })).digest('hex')]));
    const regLog = log.child({ component: 'registration' });
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
        regLog.info({ site: e.site, endDevice: e.endDevice, ...(e.skipped.length ? { skipped: e.skipped.map((k) => k.step) } : {}) }, e.skipped.length ? `registered, with ${e.skipped.length} steps skipped (warned above)` : 'registered');
        const site = sites.find((x) => x.name === e.site);
        try {
          if (site) journal.registered({ site: e.site, fingerprint: fingerprints.get(e.site)!, lfdi: site.lfdi, endDevice: e.endDevice, der: e.der ?? null });
        } catch (error) {
          regLog.error({ err: (error as Error).message }, 'journal: could not record the registration');
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
        regLog.error({ site: e.site, failure: e.failure, retryAt: retryAt ?? 'only on the register command' },
          `registration failed (${e.failure.code}, permanent: not retried until ${retryAt ?? 'a register command'} or a config change)`);
      } else if (e.type === 'retrying') {
        const nextAttemptAt = new Date(Date.now() + e.delayMs).toISOString();
        setStatus({
          site: e.site, status: 'retrying', step: e.step, attempt: e.attempt, nextAttemptAt,
          lastError: { message: e.error.message, kind: e.error.kind, reason: e.error.reason, status: e.error.status },
        });
        regLog.warn({ site: e.site, step: e.step, attempt: e.attempt, nextAttemptAt, delayMs: e.delayMs, reason: e.reason }, `registration: ${e.step} failed (attempt ${e.attempt}), next attempt at ${nextAttemptAt}`);
      } else if (e.type === 'skipped') {
        publish('registration.warning', { site: e.site, step: e.step, reason: e.reason });
        regLog.warn({ site: e.site, step: e.step }, `registration: ${e.step} skipped: ${e.reason}`);
      }
    };
    fleet = new RegistrationFleet(sites, {
      client: sep2Client, policy: registrationPolicy(reg), concurrency: reg.policy.concurrency ?? 8, onEvent, inspectFor,
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
    config, feedUrl, httpUrl: `http://${host}:${address.port}`, meters, fleet, demo, feed, journal,
    async stop() {
      feed.stopAccepting();
      clearInterval(recoveryTimer);
      await Promise.all([...meters.values()].map((entry) => finishOrLeave(entry, graceMs, log)));
      for (const { driver } of meters.values()) await driver.stop();
      fleet?.stop();
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
