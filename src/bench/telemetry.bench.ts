/**
 * The cost of posting telemetry (MirrorUsagePoint readings, DER status): for one site at a post rate of 60 s and of
 * 5 s, and for an aggregator's 1 000 sites at 60 s, with a reading per site every second as a meter gives them. The
 * 2030.5 test server runs in process behind the client's `fetch` (mock transport: no sockets, no XSD check), and the
 * time it spends answering is measured and taken out, so the CPU figure is the client's: the telemetry charts, the
 * aggregation, the XML, the backlog (SQLite, WAL) and the HTTP client. RSS is the process's growth from before the
 * charts started (the server's own state is kept small: its reading log is emptied every interval). The latency is
 * from an interval's end to the POST of its first and of its last reading.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiteRegistration } from '../../machines/registration/registration.types.js';
import { createMockFetch } from '../adapters/sep2/mock-transport.js';
import { registerSites } from '../adapters/sep2/registration.service.js';
import { Sep2Client } from '../adapters/sep2/sep2.client.js';
import { BacklogStore } from '../adapters/telemetry/backlog.store.js';
import { MirrorDirectory } from '../adapters/telemetry/mirror-locator.js';
import { createTelemetryClient, type TelemetryActor } from '../adapters/telemetry/telemetry.service.js';
import { Limiter } from '../adapters/sep2/limiter.js';
import { readingTypes } from '../domain/telemetry.js';
import { createSep2Handler } from '../simulators/sep2-server/handler.js';
import { figure, percentile, sleep, type Figure } from './stats.js';

const AGGREGATOR = 'AB0000000000000000000000000000000000C0DE';
const lfdiOf = (i: number): string => `${(i + 1).toString(16).toUpperCase().padStart(9, '0')}${'5173'.padEnd(31, '0')}`;

interface RunResult {
  cpuPercent: number;
  rssMb: number;
  firstLatency: number[];
  lastLatency: number[];
  posts: number;
}

async function run(sites: number, postRateS: number, intervals: number): Promise<RunResult> {
  const handler = createSep2Handler({
    profile: 'envoy', validateXsd: false, aggregators: [AGGREGATOR], requestLogLimit: 1, onWarning: null, defaultLimit: 500,
    pollRates: { DeviceCapability: 3600, EndDeviceList: 3600, MirrorUsagePointList: 3600, DERList: postRateS * 2 },
  });
  handler.mirrors.postRate = postRateS;
  let serverMs = 0;
  const dispatch = handler.dispatch;
  handler.dispatch = (request) => {
    const started = performance.now();
    try {
      return dispatch(request);
    } finally {
      serverMs += performance.now() - started;
    }
  };
  const client = new Sep2Client({ baseUrl: 'http://sep2.bench', fetch: createMockFetch(handler, AGGREGATOR, () => undefined) });
  const registrations: SiteRegistration[] = Array.from({ length: sites }, (_, i) => ({
    name: `site-${i}`, lfdi: lfdiOf(i), deviceCategory: 0x020000,
    derCapability: { modesSupported: 0x00500088, rtgMaxW: 7000, type: 82, doeModesSupported: 0x0f },
    derSettings: { modesEnabled: 0x00500088, setGradW: 0, setMaxW: 7000, doeModesEnabled: 0x0f },
  }));
  const outcomes = await registerSites(registrations, {
    client, concurrency: 16,
    policy: { dcapPath: '/dcap', pageSize: 500, maxPages: 100, inBandRegistration: true, csipaus: 'auto', createDer: false, legacyPathFallback: false, maxAttempts: 3, retryBaseMs: 20, retryMaxMs: 200, outOfBandPollMs: 60_000 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-telemetry-'));
  const store = BacklogStore.open(join(dir, 'telemetry.sqlite'));
  const limiter = new Limiter(16);
  const directory = new MirrorDirectory(client, { dcapPath: '/dcap' });
  const types = readingTypes();
  const firstLatency: number[] = [];
  const lastLatency: number[] = [];
  let posts = 0;
  const actors: TelemetryActor[] = [];
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  for (const [i, outcome] of outcomes.entries()) {
    if (!outcome.ok) throw new Error(`bench site ${i} did not register: ${JSON.stringify(outcome.failure)}`);
    const seen = new Map<number, number>();
    const { actor } = createTelemetryClient({
      client, store, limiter, directory, site: `site-${i}`, lfdi: lfdiOf(i), endDeviceHref: outcome.endDevice, pen: 1, types,
      roles: { derMeters: ['meter'] }, condition: { meterConnected: true, charging: true, powerW: 7000, ratedW: 7000, chargeLimitW: null, connect: null, energize: null },
      maxIntervals: 1440, defaultPostRateS: postRateS, retryMs: 1000,
      onPost: (row, latency) => {
        posts += 1;
        const n = (seen.get(row.startS) ?? 0) + 1;
        seen.set(row.startS, n);
        if (n === 1) firstLatency.push(latency);
        if (n === types.length) {
          lastLatency.push(latency);
          seen.delete(row.startS);
        }
      },
    });
    actors.push(actor);
    actor.start();
  }
  // A reading per site every second, spread over the second as meters' are.
  let tick = 0;
  const feeder = setInterval(() => {
    const atMs = Date.now();
    tick += 1;
    for (const [i, actor] of actors.entries()) actor.send({ type: 'READING', meter: 'meter', atMs: atMs + (i % 1000) / 1000, powerW: 7000 + 100 * Math.sin((tick + i) / 7), voltageV: 400 });
  }, 1000);
  // Measure whole intervals after the first (which starts part-way and includes locating the usage points).
  const firstEnd = (Math.floor(Date.now() / 1000 / postRateS) + 1) * postRateS * 1000;
  while (Date.now() < firstEnd + 500) await sleep(100);
  firstLatency.length = 0;
  lastLatency.length = 0;
  handler.mirrors.readings.splice(0);
  const cpu0 = process.cpuUsage();
  const server0 = serverMs;
  const wall0 = performance.now();
  for (let k = 0; k < intervals; k += 1) {
    const end = firstEnd + (k + 1) * postRateS * 1000;
    while (Date.now() < end + 500) await sleep(100);
    handler.mirrors.readings.splice(0);
  }
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  const clientMs = (cpu.user + cpu.system) / 1000 - (serverMs - server0);
  const rssMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
  clearInterval(feeder);
  for (const actor of actors) actor.stop();
  store.close();
  await client.close();
  rmSync(dir, { recursive: true, force: true });
  return { cpuPercent: (100 * clientMs) / wallMs, rssMb, firstLatency, lastLatency, posts };
}

export interface TelemetryBenchSizes {
  cases: readonly { sites: number; postRateS: number; intervals: number }[];
}

export async function benchTelemetry(sizes: TelemetryBenchSizes): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const c of sizes.cases) {
    const r = await run(c.sites, c.postRateS, c.intervals);
    const id = `telemetry_${c.sites}x${c.postRateS}s`;
    const what = `telemetry, ${c.sites === 1 ? 'one site' : `${c.sites} aggregator sites`} at ${c.postRateS} s`;
    const note = `${c.intervals} intervals of ${c.postRateS} s, a reading per site per second, ${readingTypes().length} MirrorMeterReadings per interval and site; ${r.posts} POSTs measured; server time taken out`;
    figures.push(
      figure(`${id}_cpu`, `${what}: client CPU (% of one core)`, '%', [r.cpuPercent], undefined, note),
      figure(`${id}_rss`, `${what}: RSS growth`, 'MB', [r.rssMb], undefined, note),
      figure(`${id}_latency_first_p50`, `${what}: interval end → first POST, p50`, 'ms', [percentile(r.firstLatency, 50)], undefined, note),
      figure(`${id}_latency_last_p99`, `${what}: interval end → last POST of the interval, p99`, 'ms', [percentile(r.lastLatency, 99)], undefined, note),
    );
  }
  return figures;
}
