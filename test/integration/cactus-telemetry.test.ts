/**
 * CACTUS monitoring procedures (bsgip/cactus-test-definitions ALL-06, ALL-07, ALL-08, ALL-10, ALL-29, ALT-ALL-29)
 * played against the 2030.5 test server over mutual TLS on a time scale of 1:60: the server's post rate of 60 s is
 * 1 s here (300 s → 5 s), a 2-minute control lasts 2 s, the default control's setGradW is 60 times steeper. The
 * charger is the LEM DCBM simulator read by the real meter driver every 100 ms; its readings, as the driver emitted
 * them, are what the server's telemetry is compared with (values within 1 %). Assertions are on what the server
 * recorded. Also: two EVSE meters and a site meter; a child process running the telemetry killed with -9 while
 * readings wait in its backlog (test/helpers/telemetry-child.ts); a stop without flush between readings (in process);
 * a server outage of several intervals (the backlog is posted in order afterwards). Every body the client sent is validated against the
 * CSIP-AUS XSDs when sep.xsd is present, and so is what the server answered about them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/project-root.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { DerClientEmitted } from '../../machines/der-client.machine.js';
import type { RegistrationPolicy, SiteRegistration } from '../../machines/registration/registration.types.js';
import { createMeterDriver, type MeterDriver } from '../../src/adapters/lem-dcbm/meter.driver.js';
import { createDerClient } from '../../src/adapters/sep2/der-client.service.js';
import { certificateIdentity } from '../../src/adapters/sep2/identity.js';
import { registerSite } from '../../src/adapters/sep2/registration.service.js';
import { Sep2Client } from '../../src/adapters/sep2/sep2.client.js';
import { parseMeterConfig } from '../../src/config/meter.config.js';
import { DER_ROLE, SITE_ROLE } from '../../src/domain/telemetry.js';
import { createLogger } from '../../src/logger.js';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';
import type { MeterSimulator } from '../../src/simulators/lem-dcbm/index.js';
import { startSep2Server, type Sep2Server } from '../../src/simulators/sep2-server/index.js';
import type { Sep2TelemetryReading } from '../../src/simulators/sep2-server/mirror-store.js';
import { telemetryClients } from '../../src/wiring/telemetry-events.js';
import { txReq } from '../helpers/in-memory-meter.js';
import { meterSim } from '../helpers/meter-sim.js';
import { xsd, xsdMissingReason } from '../helpers/xsd.js';
import { sleep, until } from '../helpers/wait.js';

const RATED_W = 7000;
const PEN = 54321;
const pki = createSep2Pki('telemetry test');
const serverCert = pki.issueServer(['127.0.0.1']);
const device = pki.issueDevice('EVSE-TELEMETRY');
const LFDI = certificateIdentity(device.chainPem).lfdi;
const serverTls = { keyPem: serverCert.keyPem, certPem: serverCert.certPem, caPem: pki.sercaPem };
const clientTls = { certPem: device.chainPem, keyPem: device.keyPem, caPem: pki.sercaPem };
const silent = createLogger({ level: 'silent' });

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const policy: RegistrationPolicy = {
  dcapPath: '/dcap', pageSize: 10, maxPages: 100, inBandRegistration: true, csipaus: 'auto', createDer: true, legacyPathFallback: false,
  maxAttempts: 5, retryBaseMs: 20, retryMaxMs: 200, outOfBandPollMs: 60_000,
};

const site: SiteRegistration = {
  name: 'evse', lfdi: LFDI, deviceCategory: 0x020000, nmi: '4103861111',
  derCapability: { modesSupported: 0x00500088, rtgMaxW: RATED_W, type: 82, doeModesSupported: 0x0f },
  derSettings: { modesEnabled: 0x00500088, setGradW: 0, setMaxW: RATED_W, doeModesEnabled: 0x0f },
  derStatus: { genConnectStatus: 1 },
};

interface Sample { atMs: number; powerW: number; voltageV: number }

interface Rig {
  server: Sep2Server;
  client: Sep2Client;
  endDevice: string;
  sim: MeterSimulator;
  driver: MeterDriver;
  /** The meter's readings as the driver emitted them, with the wall time. */
  samples: Sample[];
  stateDir: string;
  /** Starts (again) the telemetry of the site; returns its stopper. */
  startTelemetry(): ReturnType<typeof telemetryClients>;
  readings(type?: string): Sep2TelemetryReading[];
}

async function rig(options: { postRate: number; server?: Sep2Server; stateDir?: string } = { postRate: 1 }): Promise<Rig> {
  const server = options.server ?? await startSep2Server({ profile: 'envoy', tls: serverTls, pollRates: { MirrorUsagePointList: 1, DERList: 1, FunctionSetAssignmentsList: 1, DERProgramList: 1 } });
  if (!options.server) closers.push(() => server.close());
  server.handler.admin({ method: 'PUT', path: '/_sim/post-rate', body: { postRate: options.postRate } });
  const client = new Sep2Client({ baseUrl: server.url, tls: clientTls, timeoutMs: 2000 });
  closers.push(() => client.close());
  const outcome = await registerSite(site, { client, policy });
  if (!outcome.ok) throw new Error(`registration failed: ${JSON.stringify(outcome.failure)}`);
  const sim = await meterSim({ chargePowerKw: RATED_W / 1000 });
  const parsed = parseMeterConfig({ name: 'evse', ip_address: '127.0.0.1', port: sim.port, warmup_ms: 0, reading_interval_ms: 100, command_timeout_ms: 1000, resilience_initial_connection_retry_delay: 100 });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const driver = createMeterDriver(parsed.value);
  closers.push(() => driver.stop());
  const samples: Sample[] = [];
  driver.actor.on('reading', (e) => samples.push({ atMs: Date.now(), powerW: e.reading.power_W.total, voltageV: e.reading.voltage_V.DC }));
  driver.actor.start();
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'cc-telemetry-'));
  if (!options.stateDir) closers.push(() => rmSync(stateDir, { recursive: true, force: true }));
  return {
    server, client, endDevice: outcome.endDevice, sim, driver, samples, stateDir,
    startTelemetry() {
      const telemetry = telemetryClients({
        client, log: silent, stateDir, sites: [site], meters: [{ name: 'evse', driver }], dcapPath: '/dcap',
        options: { pen: PEN, retryMs: 300, defaultPostRateS: options.postRate },
      });
      telemetry.start(site.name, outcome.endDevice);
      closers.push(() => telemetry.stop());
      return telemetry;
    },
    readings: (type) => server.handler.mirrors.readings.filter((r) => type === undefined || r.description === DESCRIPTIONS[type]),
  };
}

/** The server knows a reading's type by the description its MirrorUsagePoint gave it. */
const DESCRIPTIONS: Record<string, string> = {
  'site.W.avg': 'Site Avg Real Power (W)', 'site.W.min': 'Site Min Real Power (W)', 'site.W.max': 'Site Max Real Power (W)', 'site.var.avg': 'Site Avg Reactive Power (var)',
  'der.W.avg': 'DER Avg Real Power (W)', 'der.W.min': 'DER Min Real Power (W)', 'der.W.max': 'DER Max Real Power (W)', 'der.var.avg': 'DER Avg Reactive Power (var)',
  'der.V.avg': 'DER Avg DC Voltage (V)',
};


/** The meter's samples read in [start, start + duration). */
const within = (samples: Sample[], r: Pick<Sep2TelemetryReading, 'start' | 'duration'>): Sample[] =>
  samples.filter((s) => s.atMs >= r.start * 1000 && s.atMs < (r.start + r.duration) * 1000);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Every document the client sent (MUP, MMR, DER status, availability, settings) is valid against the XSDs. */
function expectValidBodies(server: Sep2Server): void {
  if (!xsd) {
    console.warn(`XSD check of the posted telemetry ${xsdMissingReason}`);
    return;
  }
  const sent = server.requests.filter((r) => (r.method === 'POST' || r.method === 'PUT') && /\/mup|\/der\/[^/]+\/der[sag]/.test(r.path));
  expect(sent.length).toBeGreaterThan(0);
  for (const request of sent) expect(xsd.validate(request.body), `${request.method} ${request.path}`).toEqual([]);
  // And what the test server answered about them (the MirrorUsagePointList and MirrorUsagePoints).
  const answers = server.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/mup') && r.status === 200);
  expect(answers.length).toBeGreaterThan(0);
  for (const answer of answers) expect(xsd.validate(answer.responseBody), `answer to GET ${answer.path}`).toEqual([]);
}

/** Intervals of one reading type: no duplicate, each aligned on its duration, each starting where the last ended. */
function expectContiguous(readings: Sep2TelemetryReading[], allowGaps = 0): void {
  expect(readings.filter((r) => r.duplicate)).toEqual([]);
  const sorted = [...readings].sort((a, b) => a.start - b.start);
  let gaps = 0;
  for (let i = 1; i < sorted.length; i += 1) {
    if (sorted[i]!.start !== sorted[i - 1]!.start + sorted[i - 1]!.duration) gaps += 1;
  }
  expect(gaps).toBeLessThanOrEqual(allowGaps);
}

describe('CACTUS monitoring procedures, compressed 1:60, over mutual TLS', () => {
  it('ALL-06 individual readings: site and DER usage points, ≥ 6 readings of each type, the meter\'s values within 1 %', async () => {
    const r = await rig({ postRate: 1 });
    await until('the meter reading', () => r.samples.length > 0, 5000);
    expect((await r.driver.startTransaction(txReq('all-06'))).status).toBe('OK'); // power ramps up over 10 s
    r.startTelemetry();
    await until('7 DER active power readings', () => r.readings('der.W.avg').length >= 7, 15_000);

    // GET-MUP, POST-MUP (one per usage point, following the Location), GET-MUP again at the list's pollRate.
    const mupRequests = r.server.requests.filter((q) => q.path === '/mup');
    expect(mupRequests[0]).toMatchObject({ method: 'GET' });
    const posts = mupRequests.filter((q) => q.method === 'POST');
    expect(posts.map((q) => q.status)).toEqual([201, 201]);
    expect(mupRequests.findIndex((q) => q.method === 'GET' && q.seq > posts[1]!.seq)).toBeGreaterThan(0);
    const mups = r.server.handler.mirrors.usagePoints;
    expect(mups.map((m) => m.roleFlags).sort()).toEqual([SITE_ROLE, DER_ROLE].sort());
    for (const m of mups) {
      expect(m).toMatchObject({ serviceCategoryKind: 0, status: 1, deviceLfdi: LFDI, site: r.endDevice.split('/').at(-1) });
      expect(m.mrid).toMatch(/^[0-9A-F]{24}00054321$/);
      expect([...m.readings.keys()].every((k) => k.endsWith('00054321'))).toBe(true);
    }

    for (const [type, uom, qualifier, flow] of [['site.W.avg', 38, 2, 1], ['site.var.avg', 63, 2, 1], ['der.V.avg', 29, 2, 0], ['der.W.avg', 38, 2, 19], ['der.var.avg', 63, 2, 19], ['der.W.min', 38, 9, 19], ['der.W.max', 38, 8, 19]] as const) {
      const got = r.readings(type);
      expect(got.length, type).toBeGreaterThanOrEqual(6);
      expect(got.every((g) => g.type.uom === uom && g.type.dataQualifier === qualifier && g.type.flowDirection === flow && g.type.kind === 37), type).toBe(true);
      expect(got.every((g) => g.duration === 1 && g.start % 1 === 0)).toBe(true);
      expectContiguous(got);
    }
    // Reactive power: a DC meter has none; reported as 0 var, flagged derived (qualityFlags bit 5).
    expect(r.readings('der.var.avg').every((g) => g.value === 0 && g.qualityFlags === 0x20)).toBe(true);

    // Values against the meter's readings of the same interval (the first is partial: telemetry started inside it).
    let compared = 0;
    for (const got of r.readings('der.W.avg').slice(1, -1)) { // the last interval's other types may still be in flight
      const same = within(r.samples, got);
      if (same.length < 5) continue;
      const expected = mean(same.map((s) => s.powerW));
      expect(Math.abs(-got.value - expected), `interval ${got.start}`).toBeLessThanOrEqual(Math.max(1, 0.01 * Math.abs(expected)));
      const site = r.readings('site.W.avg').find((s) => s.start === got.start)!;
      expect(Math.abs(site.value - expected)).toBeLessThanOrEqual(Math.max(1, 0.01 * Math.abs(expected)));
      const max = r.readings('der.W.min').find((s) => s.start === got.start)!; // reverse flow: the most negative is the largest draw
      expect(Math.abs(-max.value - Math.max(...same.map((s) => s.powerW)))).toBeLessThanOrEqual(Math.max(1, 0.01 * expected));
      const volts = r.readings('der.V.avg').find((s) => s.start === got.start)!;
      const expectedV = mean(same.map((s) => s.voltageV));
      expect(Math.abs(volts.value / 10 - expectedV)).toBeLessThanOrEqual(0.01 * expectedV);
      compared += 1;
    }
    expect(compared).toBeGreaterThanOrEqual(4);
    // Each interval is posted right after its end.
    for (const got of r.readings('der.W.avg')) expect(got.atMs - (got.start + got.duration) * 1000).toBeLessThan(900);
    expectValidBodies(r.server);
  }, 30_000);

  it('ALL-07 connection status: DERStatus genConnectStatus bit 0 follows the meter going away and coming back', async () => {
    const r = await rig({ postRate: 1 });
    await until('the meter reading', () => r.samples.length > 0, 5000);
    r.startTelemetry();
    const statuses = () => r.server.requests.filter((q) => q.method === 'PUT' && q.path.endsWith('/ders')).map((q) => Number.parseInt(/<genConnectStatus><dateTime>\d+<\/dateTime><value>([0-9A-F]{2})</.exec(q.body)![1]!, 16));
    await until('a connected status', () => statuses().some((s) => (s & 1) === 1), 5000);
    r.sim.faults.addResponseFault({ endpoint: 'livemeasure', drop: 'immediately', times: 25 });
    await until('a disconnected status', () => statuses().some((s) => (s & 1) === 0), 8000);
    await until('connected again', () => (statuses().at(-1)! & 1) === 1, 10_000);
    expect(r.server.handler.state.sites[0]!.ders[0]!.status).toBeDefined();
    expectValidBodies(r.server);
  }, 30_000);

  it('ALL-08 operational mode status: 2 while charging, 1 when the limit stops it, 2 again', async () => {
    const r = await rig({ postRate: 1 });
    await until('the meter reading', () => r.samples.length > 0, 5000);
    const telemetry = r.startTelemetry();
    const modes = () => r.server.requests.filter((q) => q.method === 'PUT' && q.path.endsWith('/ders') && q.body.includes('operationalModeStatus')).map((q) => Number(/<operationalModeStatus><dateTime>\d+<\/dateTime><value>(\d+)</.exec(q.body)![1]));
    await until('a first status', () => modes().length > 0, 5000);
    expect(modes().at(-1)).toBe(1); // idle: no vehicle charging
    expect((await r.driver.startTransaction(txReq('all-08'))).status).toBe('OK');
    await until('operational', () => modes().at(-1) === 2, 5000);
    telemetry.limit({ site: site.name, chargeLimitW: 0, connect: null, energize: null });
    await until('off under a limit of 0', () => modes().at(-1) === 1, 5000);
    telemetry.limit({ site: site.name, chargeLimitW: null, connect: null, energize: null });
    await until('operational again', () => modes().at(-1) === 2, 5000);
    // Between changes the status is PUT again at the DERList's pollRate (1 s).
    const count = modes().length;
    await sleep(2300);
    expect(modes().length).toBeGreaterThanOrEqual(count + 2);
    expectValidBodies(r.server);
  }, 30_000);

  it.each([
    ['ALL-11 energise / de-energise', 'opModEnergize', 2],
    ['ALL-12 connect / disconnect', 'opModConnect', 0],
  ] as const)('%s: a control %s=false puts DERStatus with its genConnectStatus bit %i cleared at its start, set again at its end', async (_name, mode, bit) => {
    const r = await rig({ postRate: 1 });
    await until('the meter reading', () => r.samples.length > 0, 5000);
    const telemetry = r.startTelemetry();
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: RATED_W, opModExpLimW: RATED_W } });
    // The DER runs (a transaction, at the rating); true for 3 s, then false for 3 s ("300 s" each).
    expect((await r.driver.startTransaction(txReq(`${mode}-on`))).status).toBe('OK');
    const startS = Math.ceil(Date.now() / 1000) + 1;
    r.server.handler.createControl({ start: startS, duration: 3, [mode]: true });
    r.server.handler.createControl({ start: startS + 3, duration: 3, [mode]: false });
    const { actor } = createDerClient({ client: r.client, site: site.name, lfdi: LFDI, endDeviceHref: r.endDevice, endDeviceRateS: 1, ratedW: RATED_W, retryMs: 300 });
    actor.on('*', (e) => {
      const event = e as DerClientEmitted;
      if (event.type === 'grid.limit') telemetry.limit(event.limit);
    });
    actor.start();
    closers.push(() => void actor.stop());
    const puts = () => r.server.requests.filter((q) => q.method === 'PUT' && q.path.endsWith('/ders')).map((q) => ({
      atMs: q.atMs, status: Number.parseInt(/<genConnectStatus><dateTime>\d+<\/dateTime><value>([0-9A-F]{2})</.exec(q.body)![1]!, 16),
    }));
    const set = (p: { status: number }) => (p.status & (1 << bit)) !== 0;
    await until('the bit set while true', () => puts().some((p) => p.atMs >= startS * 1000 && p.atMs < (startS + 3) * 1000 && set(p)), (startS + 3) * 1000 - Date.now());
    // "wait 270 s, then a PUT with the bit 0": at the false control's start, not only at the next periodic PUT.
    const cleared = await until('a PUT with the bit cleared', () => puts().some((p) => p.atMs >= (startS + 3) * 1000 && !set(p)), 4000);
    expect(cleared - (startS + 3) * 1000).toBeLessThan(1000);
    expect(puts().filter((p) => p.atMs >= (startS + 3) * 1000 + 1000 && p.atMs < (startS + 6) * 1000).every((p) => !set(p))).toBe(true);
    const back = await until('a PUT with the bit set again', () => puts().some((p) => p.atMs >= (startS + 6) * 1000 && set(p)), 4000);
    expect(back - (startS + 6) * 1000).toBeLessThan(1500);
    expectValidBodies(r.server);
  }, 30_000);

  it('ALL-10 post rate changes: 1 s, then 5 s read from the list, then back to 1 s with a post within 1.5 s of the list read', async () => {
    const r = await rig({ postRate: 1 });
    await until('the meter reading', () => r.samples.length > 0, 5000);
    r.startTelemetry();
    await until('readings at 1 s', () => r.readings('der.W.avg').length >= 2, 8000);
    r.server.handler.admin({ method: 'PUT', path: '/_sim/post-rate', body: { postRate: 5 } });
    await until('two readings of 5 s', () => r.readings('der.W.avg').filter((g) => g.duration === 5).length >= 2, 16_000);
    r.server.handler.admin({ method: 'PUT', path: '/_sim/post-rate', body: { postRate: 1 } });
    const changedAt = Date.now();
    await until('a 1 s reading again', () => r.readings('der.W.avg').some((g) => g.duration === 1 && g.atMs > changedAt), 8000);
    const listRead = r.server.requests.find((q) => q.method === 'GET' && q.path === '/mup' && q.atMs >= changedAt)!;
    const firstPost = r.server.requests.find((q) => q.method === 'POST' && q.path.startsWith('/mup/') && q.atMs >= listRead.atMs)!;
    expect(firstPost.atMs - listRead.atMs).toBeLessThan(1500); // CACTUS: within 90 s at 60 s
    const all = r.readings('der.W.avg');
    expectContiguous(all); // a change of rate shortens an interval, never overlaps or skips
    expect(all.filter((g) => g.duration === 5).every((g) => g.start % 5 === 0)).toBe(true); // aligned as 300 s intervals on the 5 minutes
    // Any other is a 5 s interval shortened by a change of rate: it starts (cut at the change back) or ends (the first) on a 5 s boundary.
    expect(all.every((g) => g.duration === 1 || g.start % 5 === 0 || (g.start + g.duration) % 5 === 0)).toBe(true);
    for (const type of ['site.W.avg', 'site.var.avg', 'der.V.avg', 'der.W.avg', 'der.var.avg']) expect(r.readings(type).length).toBeGreaterThanOrEqual(3);
    expectValidBodies(r.server);
  }, 45_000);

  it.each([
    ['ALL-29', [2, 0.3, 0.2, 0.1, 0]],
    ['ALT-ALL-29', [2, 0.5, 0.4, 0.3, 0]],
  ])('%s operating telemetry: ≥ 8 readings, the DER power following the import limits of five 2 s controls', async (_name, shares) => {
    const r = await rig({ postRate: 1 });
    await until('the meter reading', () => r.samples.length > 0, 5000);
    r.sim.device.setConditions({ powerKw: RATED_W / 1000 }); // the vehicle would draw the full rating
    const telemetry = r.startTelemetry();
    // The utility's part: a default of 0 W with a steep gradient (setGradW 600 × 60), five controls of 2 s.
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: 0, opModExpLimW: 0, setGradW: 36_000 } });
    const startS = Math.ceil(Date.now() / 1000) + 2;
    shares.forEach((share, i) => r.server.handler.createControl({ start: startS + 2 * i, duration: 2, opModImpLimW: Math.round(RATED_W * share), opModExpLimW: Math.round(RATED_W * share), rampTms: 0 }));
    const limits: { atMs: number; chargeLimitW: number | null }[] = [];
    const { actor } = createDerClient({ client: r.client, site: site.name, lfdi: LFDI, endDeviceHref: r.endDevice, endDeviceRateS: 1, ratedW: RATED_W, retryMs: 300 });
    actor.on('*', (e) => {
      const event = e as DerClientEmitted;
      if (event.type !== 'grid.limit') return;
      limits.push({ atMs: Date.now(), chargeLimitW: event.limit.chargeLimitW });
      r.sim.device.setPowerLimit(event.limit.chargeLimitW === null ? undefined : event.limit.chargeLimitW / 1000); // the charger applies it
      telemetry.limit(event.limit);
    });
    actor.start();
    closers.push(() => void actor.stop());
    expect((await r.driver.startTransaction(txReq('all-29'))).status).toBe('OK');
    await until('the end of the last control', () => Date.now() > (startS + 11) * 1000, 20_000);
    await until('its interval posted', () => r.readings('der.W.avg').some((g) => g.start >= startS + 10), 3000);

    expect(r.readings('der.W.avg').length).toBeGreaterThanOrEqual(8);
    expect(r.readings('site.W.avg').length).toBeGreaterThanOrEqual(8);
    // In the second half of each control the draw (DER power, negative) stays within its limit, and is near it.
    shares.forEach((share, i) => {
      const got = r.readings('der.W.avg').find((g) => g.start === startS + 2 * i + 1)!;
      expect(got, `control ${i + 1}`).toBeDefined();
      const limitW = Math.min(RATED_W, RATED_W * share);
      expect(-got.value).toBeLessThanOrEqual(limitW * 1.01 + 1);
      expect(-got.value).toBeGreaterThanOrEqual(limitW * 0.9 - 1);
      const same = within(r.samples, got);
      expect(Math.abs(-got.value - mean(same.map((s) => s.powerW)))).toBeLessThanOrEqual(Math.max(1, 0.01 * limitW));
    });
    expect(limits.length).toBeGreaterThan(0);
    expectValidBodies(r.server);
  }, 40_000);
});

describe('restarts and outages', () => {
  it('a stop without flush between readings, then a restart: no duplicate, no gap beyond the interval that was open', async () => {
    const r = await rig({ postRate: 1 });
    await until('the meter reading', () => r.samples.length > 0, 5000);
    const first = r.startTelemetry();
    await until('3 readings', () => r.readings('der.W.avg').length >= 3, 8000);
    await sleep(450); // between two posts, inside an interval
    first.stop(); // the chart and the backlog are dropped as a crash would (nothing is flushed; the open interval is lost)
    const stoppedAt = Date.now();
    await sleep(300);
    r.startTelemetry();
    await until('3 more readings', () => r.readings('der.W.avg').filter((g) => g.atMs > stoppedAt).length >= 3, 8000);
    // The second run found the usage points (no new POST /mup) and posted each interval once.
    expect(r.server.requests.filter((q) => q.method === 'POST' && q.path === '/mup')).toHaveLength(2);
    expect(r.server.handler.mirrors.usagePoints).toHaveLength(2);
    for (const type of Object.keys(DESCRIPTIONS)) {
      const got = r.readings(type);
      // The interval open at the stop is read again from the restart, or lost: at most one interval missing.
      expectContiguous(got, 1);
      const sorted = got.map((g) => g.start).sort((a, b) => a - b);
      const holes = sorted.slice(1).map((s, i) => s - sorted[i]! - 1).filter((h) => h > 0);
      expect(holes.every((h) => h <= 1), `${type}: ${holes}`).toBe(true);
    }
  }, 30_000);

  it('kill -9 of the process with readings in its backlog, then a restart: each interval measured before the kill posted once', async () => {
    const r = await rig({ postRate: 1 });
    const children: ChildProcess[] = [];
    closers.push(() => {
      for (const child of children) child.kill('SIGKILL');
    });
    const stderr: string[] = [];
    const start = () => {
      const child = spawn(process.execPath, ['--experimental-transform-types', '--no-warnings', '--import', join(projectRoot(), 'test/helpers/ts-child-loader.mjs'), join(projectRoot(), 'test/helpers/telemetry-child.ts')], {
        env: { ...process.env, TELEMETRY_CHILD: JSON.stringify({ serverUrl: r.server.url, tls: clientTls, site, endDevice: r.endDevice, meterPort: r.sim.port, stateDir: r.stateDir, options: { pen: PEN, retryMs: 300, defaultPostRateS: 1 } }) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
      children.push(child);
      return child;
    };
    const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
    const first = start();
    await until(`3 readings from the first process ${stderr.join('')}`, () => r.readings('der.W.avg').length >= 3, 20_000);
    // The server goes away for 4 s: the next intervals wait in the backlog; the process is killed while they do.
    r.server.refuseFor(4000);
    await sleep(1700);
    await until('the middle of an interval', () => Date.now() % 1000 >= 400 && Date.now() % 1000 < 700, 2000);
    const killedAt = Date.now();
    first.kill('SIGKILL');
    await exited(first);
    expect(first.signalCode).toBe('SIGKILL');
    const measuredBefore = Math.floor(killedAt / 1000); // every interval that ended before the kill
    start();
    await until(`the intervals measured before the kill posted ${stderr.join('')}`, () => r.readings('der.W.avg').some((g) => g.start === measuredBefore - 1), 20_000);
    await until('2 readings measured by the second process', () => r.readings('der.W.avg').filter((g) => g.start * 1000 > killedAt).length >= 2, 10_000);
    expect(r.server.requests.filter((q) => q.method === 'POST' && q.path === '/mup')).toHaveLength(2); // found again, not created again
    // The intervals measured by the killed process during the outage were posted by the second one, from the backlog.
    expect(r.readings('der.W.avg').filter((g) => (g.start + g.duration) * 1000 <= killedAt && g.atMs > killedAt).length).toBeGreaterThanOrEqual(1);
    for (const type of Object.keys(DESCRIPTIONS)) {
      const got = r.readings(type);
      expect(got.filter((g) => g.duplicate), type).toEqual([]);
      const before = got.filter((g) => g.start + g.duration <= measuredBefore).map((g) => g.start).sort((a, b) => a - b);
      // Contiguous from the first interval to the last one that ended before the kill: nothing measured was lost.
      expect(before.at(-1), type).toBe(measuredBefore - 1);
      expect(before, type).toEqual(before.map((_, i) => before[0]! + i));
    }
  }, 60_000);

  it('the server down for several intervals: the backlog is posted in order when it is back, nothing twice', async () => {
    const r = await rig({ postRate: 1 });
    await until('the meter reading', () => r.samples.length > 0, 5000);
    r.startTelemetry();
    await until('2 readings', () => r.readings('der.W.avg').length >= 2, 8000);
    const before = r.readings('der.W.avg').length;
    r.server.refuseFor(4000);
    const downAt = Date.now();
    await sleep(4000);
    const backAt = Date.now();
    await until('the backlog posted', () => r.readings('der.W.avg').some((g) => g.start * 1000 >= backAt), 10_000);
    const got = r.readings('der.W.avg');
    const during = got.filter((g) => g.start * 1000 >= downAt && (g.start + g.duration) * 1000 <= backAt);
    expect(during.length).toBeGreaterThanOrEqual(3); // measured while down, posted afterwards
    expect(during.every((g) => g.atMs >= backAt)).toBe(true);
    expect(got.length).toBeGreaterThan(before + 3);
    // In order: each type's readings arrived in interval order; none missing, none twice.
    for (const type of Object.keys(DESCRIPTIONS)) {
      const starts = r.readings(type).map((g) => g.start);
      expect(starts, type).toEqual([...starts].sort((a, b) => a - b));
      expectContiguous(r.readings(type));
    }
    expectValidBodies(r.server);
  }, 30_000);
});

describe('from which meter', () => {
  it('two EVSE meters add up to the DER; a site meter gives the site readings', async () => {
    const r = await rig({ postRate: 1 });
    r.sim.device.setConditions({ powerKw: 3 });
    const second = await meterSim({ chargePowerKw: 4 });
    second.device.setConditions({ powerKw: 4 });
    const grid = await meterSim({ chargePowerKw: 11 });
    grid.device.setConditions({ powerKw: 11 });
    const drivers = [second, grid].map((sim, i) => {
      const parsed = parseMeterConfig({ name: i === 0 ? 'evse2' : 'grid', ip_address: '127.0.0.1', port: sim.port, warmup_ms: 0, reading_interval_ms: 100, command_timeout_ms: 1000, resilience_initial_connection_retry_delay: 100 });
      if (!parsed.ok) throw new Error(parsed.problems.join('; '));
      const driver = createMeterDriver(parsed.value);
      closers.push(() => driver.stop());
      driver.actor.start();
      return driver;
    });
    const telemetry = telemetryClients({
      client: r.client, log: silent, stateDir: r.stateDir, sites: [{ ...site, siteMeter: 'grid' }], dcapPath: '/dcap',
      meters: [{ name: 'evse', driver: r.driver }, { name: 'evse2', driver: drivers[0]! }, { name: 'grid', driver: drivers[1]! }],
      options: { pen: PEN, retryMs: 300, defaultPostRateS: 1 },
    });
    telemetry.start(site.name, r.endDevice);
    closers.push(() => telemetry.stop());
    await until('4 readings', () => r.readings('der.W.avg').length >= 4, 10_000);
    // The first interval may have started before every meter read; the later ones hold all three.
    for (const got of r.readings('der.W.avg').slice(2)) {
      expect(Math.abs(-got.value - 7000), `DER at ${got.start}`).toBeLessThanOrEqual(70);
      const siteW = r.readings('site.W.avg').find((s) => s.start === got.start)!;
      expect(Math.abs(siteW.value - 11_000), `site at ${got.start}`).toBeLessThanOrEqual(110);
    }
    expect(telemetry.status()[site.name]).toMatchObject({ postRateS: 1, lastError: undefined });
    expect(telemetry.status()[site.name]!.queued).toBeLessThanOrEqual(11); // at most the interval being posted
    expect(telemetry.status()[site.name]!.posted).toBeGreaterThan(20);
  }, 30_000);
});
