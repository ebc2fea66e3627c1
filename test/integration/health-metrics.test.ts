/**
 * /healthz and /metrics of the running controller over real sockets: 503 with the reason while the meter simulator
 * is down, 200 once it is up; a 2030.5 server that is down (registration retrying) is a warning, not a 503; and a
 * Prometheus scrape during a real transaction on the simulator shows the counters move.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { assessHealth, type HealthReport, type MeterHealth } from '../../src/adapters/health/health.js';
import { parseControllerConfig } from '../../src/config/controller.config.js';
import { createLogger } from '../../src/logger.js';
import { startController, type Controller } from '../../src/main.js';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';
import { startMeterSimulator, type MeterSimulator } from '../../src/simulators/lem-dcbm/index.js';
import { startSep2Server } from '../../src/simulators/sep2-server/index.js';
import { FeedClient } from '../helpers/feed-client.js';
import { request } from '../helpers/http.js';
import { meterSim } from '../helpers/meter-sim.js';

const TOKEN = 'health-token-0123456789';
const log = createLogger({ level: 'silent' });
const controllers: Controller[] = [];
const clients: FeedClient[] = [];
const dirs: string[] = [];
const sims: MeterSimulator[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.closeAndWait()));
  await Promise.all(controllers.splice(0).map((c) => c.stop()));
  await Promise.all(sims.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cc-health-'));
  dirs.push(dir);
  return dir;
}

async function controllerOn(port: number, dir = freshDir(), extra: Record<string, unknown> = {}): Promise<Controller> {
  const config = parseControllerConfig({
    meters: [{ name: 'evse1', evse_id: 'DE*HLT*E1', ip_address: '127.0.0.1', port, reading_interval_ms: 200, warmup_ms: 0, resilience_initial_connection_retry_delay: 100, command_timeout_ms: 1000 }],
    feed: { port: 0, token: TOKEN }, state_dir: dir, ...extra,
  }, 'test', {});
  const controller = await startController({ config, log, shutdownGraceMs: 300 });
  controllers.push(controller);
  return controller;
}

async function healthz(controller: Controller): Promise<{ status: number; body: HealthReport }> {
  const res = await request(`${controller.httpUrl}/healthz`);
  return { status: res.status, body: res.json<HealthReport>() };
}

/** Polls /healthz until `accept` holds (bounded). */
async function healthUntil(controller: Controller, accept: (r: { status: number; body: HealthReport }) => boolean, timeoutMs = 8000) {
  let last: { status: number; body: HealthReport } | undefined;
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    last = await healthz(controller);
    if (accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`/healthz never matched; last: ${JSON.stringify(last)}`);
}

/** The value of one series in a Prometheus text exposition; undefined when there is no such series. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(/,(?=[a-zA-Z_]\w*=")/);
    if (want.every((w) => have.includes(w))) return Number(match[3]);
  }
  return undefined;
}

async function scrape(controller: Controller): Promise<string> {
  const res = await request(`${controller.httpUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toContain('text/plain; version=0.0.4');
  return res.text;
}

describe('/healthz', () => {
  it('answers 503 with the reason while the meter is unreachable, and 200 once it is up', async () => {
    const probe = await meterSim();
    const port = probe.port;
    await probe.close(); // nothing listens there now
    const controller = await controllerOn(port);

    const down = await healthUntil(controller, (r) => r.body.meters[0]?.connection === 'unreachable');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unhealthy', journal: { writable: true } });
    expect(down.body.meters[0]).toMatchObject({ meter: 'evse1', evseId: 'DE*HLT*E1', connection: 'unreachable', faults: [{ fault: 'CommunicationFault' }] });
    expect(down.body.reasons).toEqual([expect.stringMatching(/^meter evse1 is unreachable \(CommunicationFault since .+\): .*(refused|ECONNREFUSED)/i)]);
    // HEAD answers the same status without the body (a load balancer's probe).
    expect((await request(`${controller.httpUrl}/healthz`, { method: 'HEAD' })).status).toBe(503);

    sims.push(await startMeterSimulator({ port })); // the meter comes up where the controller looks for it
    const up = await healthUntil(controller, (r) => r.status === 200);
    expect(up.body).toMatchObject({ status: 'ok', reasons: [], meters: [{ meter: 'evse1', connection: 'connected', faults: [] }], journal: { writable: true } });
    expect(up.body.journal.sizeBytes).toBeGreaterThan(0);
  });

  it('answers 503 when the readings stop (link lost) and names the journal when its directory is gone', async () => {
    const sim = await meterSim();
    const dir = freshDir();
    const controller = await controllerOn(sim.port, dir);
    await healthUntil(controller, (r) => r.status === 200);

    sim.refuseFor(60_000);
    const lost = await healthUntil(controller, (r) => r.status === 503 && r.body.meters[0]?.connection === 'lost');
    expect(lost.body.reasons[0]).toMatch(/^meter evse1 is lost \(CommunicationFault since /);

    rmSync(dir, { recursive: true, force: true });
    const gone = await healthz(controller);
    expect(gone.status).toBe(503);
    expect(gone.body.journal).toMatchObject({ writable: false, problem: expect.stringContaining('not writable') });
    expect(gone.body.reasons.at(-1)).toMatch(/^the journal .*journal\.sqlite cannot take writes: not writable/);
  });

  it('stays 200 while the 2030.5 server is down (registration retrying) and reports it as a warning', async () => {
    const sim = await meterSim();
    const dir = freshDir();
    const pki = createSep2Pki();
    const serverCert = pki.issueServer(['127.0.0.1']);
    const device = pki.issueDevice('HLT');
    const sep2 = await startSep2Server({ profile: 'envoy', tls: { keyPem: serverCert.keyPem, certPem: serverCert.certPem, caPem: pki.sercaPem } });
    const url = sep2.url;
    await sep2.close(); // the WAN is down
    for (const [name, pem] of [['chain.pem', device.chainPem], ['key.pem', device.keyPem], ['ca.pem', pki.sercaPem]] as const) writeFileSync(join(dir, name), pem);
    const controller = await controllerOn(sim.port, dir, {
      registration: {
        server: { url }, tls: { certificate: join(dir, 'chain.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'ca.pem') },
        mode: 'device', pin: 111115, policy: { retryBaseMs: 50, retryMaxMs: 200 }, device: { nmi: '4103861111', der: { rtgMaxW: 50000, settings: { setMaxW: 50000 }, status: {} } },
      },
    });
    const retrying = await healthUntil(controller, (r) => r.body.registration[0]?.status === 'retrying' && r.body.meters[0]?.connection === 'connected');
    expect(retrying.status).toBe(200);
    expect(retrying.body.status).toBe('ok');
    expect(retrying.body.warnings).toEqual([expect.stringMatching(/^registration of site .+ is retrying .*\(attempt \d+, next at /)]);
    const text = await scrape(controller);
    expect(metric(text, 'charger_registration_state', { state: 'retrying' })).toBe(1);
    expect(metric(text, 'charger_registration_state', { state: 'registered' })).toBe(0);
    expect(metric(text, 'charger_healthy')).toBe(1);
  });

  it('rules: a failed registration, a shutdown or a full disk make it unhealthy; a temperature warning does not', () => {
    const meter: MeterHealth = { meter: 'm', evseId: 'E', connection: 'connected', state: ['operational.link.ok'], faults: [] };
    const journal = { file: '/s/journal.sqlite', writable: true };
    expect(assessHealth({ meters: [meter], registration: [], journal })).toMatchObject({ status: 'ok', reasons: [], warnings: [] });
    const hot = { ...meter, faults: [{ fault: 'TemperatureWarning', message: 'hot', since: 't0' }] };
    expect(assessHealth({ meters: [hot], registration: [], journal })).toMatchObject({ status: 'ok', warnings: ['meter m: TemperatureWarning since t0: hot'] });
    const failed = assessHealth({
      meters: [meter], journal,
      registration: [{ site: 's1', status: 'failed', step: 'postEndDevice', failure: { code: 'FORBIDDEN', message: 'refused' }, retryAt: 't1' }],
    });
    expect(failed).toMatchObject({ status: 'unhealthy', reasons: ['registration of site s1 failed (FORBIDDEN: refused); it registers again at t1'] });
    expect(assessHealth({ meters: [meter], registration: [{ site: 's1', status: 'pending', step: undefined }], journal })).toMatchObject({ status: 'ok', warnings: ['registration of site s1 is pending'] });
    expect(assessHealth({ meters: [meter], registration: [], journal, stopping: true }).reasons).toEqual(['the controller is shutting down']);
    const full = assessHealth({ meters: [meter], registration: [], journal: { ...journal, writable: false, problem: 'its file system has only 10 bytes free' } });
    expect(full.reasons).toEqual(['the journal /s/journal.sqlite cannot take writes: its file system has only 10 bytes free']);
  });
});

describe('/metrics', () => {
  it('counts readings, device requests and a real transaction on the simulator; gauges follow the state', async () => {
    const sim = await meterSim();
    const controller = await controllerOn(sim.port);
    const client = new FeedClient(controller.feedUrl, { token: TOKEN });
    clients.push(client);
    await client.next((m) => m.type === 'reading');

    const before = await scrape(controller);
    expect(metric(before, 'charger_meter_readings_total', { meter: 'evse1' })).toBeGreaterThan(0);
    expect(metric(before, 'charger_meter_requests_total', { meter: 'evse1', endpoint: 'status', method: 'GET', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(metric(before, 'charger_meter_request_duration_seconds_count', { meter: 'evse1', endpoint: 'livemeasure', method: 'GET' })).toBeGreaterThan(0);
    expect(metric(before, 'charger_transactions_started_total', { meter: 'evse1', status: 'OK' })).toBeUndefined();
    expect(metric(before, 'charger_meter_connected', { meter: 'evse1' })).toBe(1);
    expect(metric(before, 'charger_feed_clients')).toBe(1);
    expect(metric(before, 'charger_journal_writable')).toBe(1);
    expect(metric(before, 'charger_journal_size_bytes')).toBeGreaterThan(0);
    expect(metric(before, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    const tx = { evse_id: 'DE*HLT*E1', transaction_id: 'tx-metrics', identification_status: 'ASSIGNED', identification_type: 'ISO14443', identification_flags: [] };
    expect((await client.command({ type: 'start_transaction', request: tx })).payload.result.status).toBe('OK');
    const during = await scrape(controller);
    expect(metric(during, 'charger_transactions_started_total', { meter: 'evse1', status: 'OK' })).toBe(1);
    expect(metric(during, 'charger_transactions_open', { meter: 'evse1' })).toBe(1);
    expect(metric(during, 'charger_meter_requests_total', { meter: 'evse1', endpoint: 'legal', method: 'POST', outcome: 'ok' })).toBe(1);

    const stopped = await client.command({ type: 'stop_transaction', transactionId: 'tx-metrics' });
    expect(stopped.payload.result.status).toBe('OK');
    await client.next((m) => m.type === 'reading', 8000, stopped.seq);
    const after = await scrape(controller);
    expect(metric(after, 'charger_transactions_stopped_total', { meter: 'evse1', status: 'OK' })).toBe(1);
    expect(metric(after, 'charger_transactions_open', { meter: 'evse1' })).toBe(0);
    expect(metric(after, 'charger_transactions_stops_pending_recovery', { meter: 'evse1' })).toBe(0);
    expect(metric(after, 'charger_meter_requests_total', { meter: 'evse1', endpoint: 'legal', method: 'PUT', outcome: 'ok' })).toBe(1);
    expect(metric(after, 'charger_meter_requests_total', { meter: 'evse1', endpoint: 'ocmf', method: 'GET', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(metric(after, 'charger_meter_readings_total', { meter: 'evse1' })).toBeGreaterThan(metric(before, 'charger_meter_readings_total', { meter: 'evse1' })!);
    expect(metric(after, 'charger_faults_active')).toBeUndefined();

    // A fault is a gauge while it is active; failed requests are counted by their error kind.
    sim.refuseFor(60_000);
    await healthUntil(controller, (r) => r.status === 503);
    const faulted = await scrape(controller);
    expect(metric(faulted, 'charger_faults_active', { source: 'meter:evse1', fault: 'CommunicationFault' })).toBe(1);
    expect(metric(faulted, 'charger_meter_requests_total', { meter: 'evse1', endpoint: 'livemeasure', method: 'GET', outcome: 'transport' })).toBeGreaterThanOrEqual(1);
    expect(metric(faulted, 'charger_meter_connected', { meter: 'evse1' })).toBe(0);
    expect(metric(faulted, 'charger_healthy')).toBe(0);

    // The controller's own registry: nothing in prom-client's global default one.
    expect(await globalRegistry.metrics()).not.toContain('charger_');
  });
});
