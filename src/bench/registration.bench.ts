/**
 * Aggregator registration of many sites against the local 2030.5 test server over mutual TLS, with bounded
 * concurrency. The server runs in its own process (`simulate sep-server`), as a utility server would, so client
 * and server do not share a core.
 *
 * For each fleet size: the registration rate of new sites, the requests per site and the EndDeviceList GETs (per
 * 1000 sites), then a second run of the same fleet against the same server (every site already registered: each
 * must be found in the fleet's index, no POST), and the ratio of requests per site between the largest and the
 * smallest fleet (flat = the fleet's discovery and EndDevice index are shared, not read per site).
 * BENCH_CHILD_NODE_ARGS="--cpu-prof" profiles the server process.
 *
 * Requests are counted on the client, one per call of the Sep2Client's get, post and put (each is one HTTP exchange:
 * the client never retries by itself): the server process has no request-count endpoint and its request log keeps
 * only the last 10 000 entries. The count is checked against the length of that log, which the server prints when
 * it stops, whenever the log is not full.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistrationPolicy, SiteRegistration } from '../../machines/registration/registration.types.js';
import { certificateIdentity } from '../adapters/sep2/identity.js';
import { RegistrationFleet, type SiteOutcome } from '../adapters/sep2/registration.service.js';
import { Sep2Client, Sep2HttpError, type Sep2WriteResult } from '../adapters/sep2/sep2.client.js';
import type { CsipausVersion } from '../adapters/sep2/xml.js';
import type { Sep2Documents, Sep2Kind } from '../domain/sep2-resources.js';
import { figure, median, round, type Figure } from './stats.js';
import { CLI, waitForLine } from './process.js';

export interface RegistrationBenchOptions {
  /** Fleet sizes, each with its number of runs (a fresh server per run). */
  fleets: readonly { sites: number; runs: number }[];
  concurrency: number;
}

/** The server's request log length (`simulate sep-server` keeps the default `requestLogLimit`). */
const SERVER_LOG_LIMIT = 10_000;

const POLICY: RegistrationPolicy = {
  dcapPath: '/dcap', pageSize: 100, maxPages: 10_000, inBandRegistration: true, csipaus: 'auto', createDer: false, legacyPathFallback: false,
  maxAttempts: 5, retryBaseMs: 50, retryMaxMs: 500, outOfBandPollMs: 60_000,
};

export function sites(count: number, run: number): SiteRegistration[] {
  return Array.from({ length: count }, (_, i) => {
    const unique = (0x100000000 + run * 100_000 + i).toString(16).toUpperCase().padStart(9, '0');
    return {
      name: `site-${i}`, lfdi: `${unique}${'0'.repeat(23)}00099999`, deviceCategory: 0x020000, nmi: `NMI${String(i).padStart(7, '0')}`,
      derCapability: { modesSupported: 0x00500088, rtgMaxW: 7000, type: 82, doeModesSupported: 0x0f },
      derSettings: { modesEnabled: 0x00500088, setGradW: 100, setMaxW: 7000, doeModesEnabled: 0x0f },
      derStatus: { genConnectStatus: 1 },
    };
  });
}

/** Counts requests by method and path shape (`GET /edev`, `PUT /edev/{id}/der/{id}/dercap`). */
export class RequestCounter {
  readonly byKind = new Map<string, number>();
  total = 0;
  /** Answers ≥ 300 (a 409, a 5xx: each costs more requests, a refresh or a retry) and other failures (transport). */
  refused = 0;
  failed = 0;

  async track<T>(method: string, url: string, exchange: () => Promise<T>): Promise<T> {
    const shape = new URL(url).pathname.replace(/^\/edev\/[^/]+/, '/edev/{id}').replace(/\/der\/[^/]+/, '/der/{id}');
    const kind = `${method} ${shape}`;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    this.total += 1;
    try {
      return await exchange();
    } catch (error) {
      if (error instanceof Sep2HttpError) this.refused += 1;
      else this.failed += 1;
      throw error;
    }
  }

  /** The counts since the last take, and starts again from zero. */
  take(): { total: number; byKind: Map<string, number>; refused: number; failed: number } {
    const taken = { total: this.total, byKind: new Map(this.byKind), refused: this.refused, failed: this.failed };
    this.byKind.clear();
    this.total = 0;
    this.refused = 0;
    this.failed = 0;
    return taken;
  }
}

/** A Sep2Client that counts its calls: each get, post and put is one HTTP exchange (the client never retries). */
class CountingSep2Client extends Sep2Client {
  readonly counter = new RequestCounter();

  override get<K extends Sep2Kind>(kind: K, href: string, query?: Record<string, string | number>): Promise<{ doc: Sep2Documents[K]; csipaus: CsipausVersion | undefined }> {
    return this.counter.track('GET', this.resolve(href), () => super.get(kind, href, query));
  }

  override post(href: string, xml: string): Promise<Sep2WriteResult> {
    return this.counter.track('POST', this.resolve(href), () => super.post(href, xml));
  }

  override put(href: string, xml: string): Promise<Sep2WriteResult> {
    return this.counter.track('PUT', this.resolve(href), () => super.put(href, xml));
  }
}

interface PassResult {
  seconds: number;
  outcomes: SiteOutcome[];
  requests: ReturnType<RequestCounter['take']>;
  scans: number;
  pages: number;
}

export async function registerFleet(fleetSites: SiteRegistration[], client: Sep2Client, counter: RequestCounter, concurrency: number): Promise<PassResult> {
  const fleet = new RegistrationFleet(fleetSites, { client, policy: POLICY, concurrency });
  const started = performance.now();
  try {
    const outcomes = await fleet.start();
    const seconds = (performance.now() - started) / 1000;
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length) throw new Error(`${failed.length} sites failed, e.g. ${JSON.stringify(failed[0])}`);
    return { seconds, outcomes, requests: counter.take(), scans: fleet.directory.stats.scans, pages: fleet.directory.stats.pages };
  } finally {
    fleet.stop();
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/**
 * Starts `simulate sep-server` with mTLS and the PKI's device certificate as an aggregator (and `args`, e.g. an admin
 * port); runs `body` with a client and the admin API's URL (when asked for); stops it.
 */
export async function withServer<T>(
  body: (client: Sep2Client, counter: RequestCounter, server: { adminUrl: string | undefined }) => Promise<T>, args: readonly string[] = [],
): Promise<{ result: T; serverLogged: number | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sep-'));
  // First start writes the PKI; its device certificate is the aggregator's.
  const first = spawn(process.execPath, [CLI, 'simulate', 'sep-server', '--port', '0', '--state-dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let server: ChildProcess | undefined;
  try {
    const url = JSON.parse(await waitForLine(first, /2030\.5 test server listening/)).url as string;
    await stop(first);
    const chainPem = readFileSync(join(dir, 'client-chain.pem'), 'utf8');
    const aggregator = certificateIdentity(chainPem).lfdi;
    // BENCH_CHILD_NODE_ARGS: extra Node flags for the server, e.g. "--cpu-prof" to profile it.
    const nodeArgs = process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    server = spawn(process.execPath, [...nodeArgs, CLI, 'simulate', 'sep-server', '--port', new URL(url).port, '--state-dir', dir, '--aggregator-lfdi', aggregator, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const admin = (JSON.parse(await waitForLine(server, /2030\.5 test server listening/)) as { admin?: string }).admin;
    let output = '';
    server.stdout?.on('data', (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-4096))); // drain its log, keep its tail
    const client = new CountingSep2Client({
      baseUrl: url,
      tls: { certPem: chainPem, keyPem: readFileSync(join(dir, 'client-key.pem'), 'utf8'), caPem: readFileSync(join(dir, 'serca.pem'), 'utf8') },
    });
    let result: T;
    try {
      result = await body(client, client.counter, { adminUrl: admin && admin !== 'off' ? admin : undefined });
    } finally {
      await client.close();
    }
    await stop(server);
    const line = output.split('\n').find((l) => l.includes('stopping the 2030.5 test server'));
    const serverLogged = line ? (JSON.parse(line) as { requests?: number }).requests : undefined;
    return { result, serverLogged };
  } finally {
    if (first.exitCode === null && first.signalCode === null) first.kill('SIGKILL');
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

interface FleetSamples {
  sites: number;
  rate: number[];
  perSite: number[];
  /** EndDeviceList GETs per 1000 sites (per site, they round to 0). */
  listPerSite: number[];
  rerunPerSite: number[];
  rerunListPerSite: number[];
  rerunRate: number[];
  notes: string[];
  rerunNotes: string[];
}

async function benchFleet(count: number, runs: number, concurrency: number): Promise<FleetSamples> {
  const samples: FleetSamples = { sites: count, rate: [], perSite: [], listPerSite: [], rerunPerSite: [], rerunListPerSite: [], rerunRate: [], notes: [], rerunNotes: [] };
  for (let run = 0; run < runs; run += 1) {
    const fleetSites = sites(count, run);
    const { result: [fresh, rerun], serverLogged } = await withServer(async (client, counter) => {
      const created = await registerFleet(fleetSites, client, counter, concurrency);
      const again = await registerFleet(fleetSites, client, counter, concurrency);
      return [created, again] as const;
    });
    // New sites: one POST each. Registered sites: each found in the index (no POST), at the EndDevice it got.
    const posts = fresh.requests.byKind.get('POST /edev') ?? 0;
    if (posts !== count) throw new Error(`new fleet of ${count}: ${posts} POST /edev`);
    const rePosts = rerun.requests.byKind.get('POST /edev') ?? 0;
    if (rePosts !== 0) throw new Error(`second run of ${count} registered sites: ${rePosts} POST /edev (each should be found in the index)`);
    // (A created EndDevice is known by its resolved Location, a listed one by its href: compare paths.)
    const path = (o: SiteOutcome | undefined): string | undefined => (o?.ok ? new URL(o.endDevice, 'https://server').pathname : undefined);
    const moved = rerun.outcomes.filter((o, i) => path(o) === undefined || path(o) !== path(fresh.outcomes[i]));
    if (moved.length) throw new Error(`second run: ${moved.length} sites not found at their EndDevice, e.g. ${JSON.stringify(moved[0])}`);
    const clientTotal = fresh.requests.total + rerun.requests.total;
    if (serverLogged !== undefined && serverLogged < SERVER_LOG_LIMIT && serverLogged !== clientTotal) {
      throw new Error(`the server logged ${serverLogged} requests, the client counted ${clientTotal}`);
    }
    samples.rate.push(count / fresh.seconds);
    samples.rerunRate.push(count / rerun.seconds);
    samples.perSite.push(fresh.requests.total / count);
    samples.listPerSite.push((1000 * (fresh.requests.byKind.get('GET /edev') ?? 0)) / count);
    samples.rerunPerSite.push(rerun.requests.total / count);
    samples.rerunListPerSite.push((1000 * (rerun.requests.byKind.get('GET /edev') ?? 0)) / count);
    if (run === 0) {
      const perKind = (byKind: Map<string, number>): string => [...byKind].sort(([a], [b]) => a.localeCompare(b)).map(([kind, n]) => `${kind} ${round(n / count)}`).join(', ');
      const check = serverLogged === undefined ? 'server count not printed'
        : serverLogged < SERVER_LOG_LIMIT ? `= the ${serverLogged} the server logged` : `server log full (${SERVER_LOG_LIMIT} cap)`;
      const errors = (r: PassResult): string => `${r.requests.refused} answered ≥ 300, ${r.requests.failed} failed in transport`;
      samples.rerunNotes.push(`per site: ${perKind(rerun.requests.byKind)}; ${errors(rerun)}`);
      samples.notes.push(`per site: ${perKind(fresh.requests.byKind)}; EndDeviceList scans ${fresh.scans} (${fresh.pages} pages), second run ${rerun.scans} (${rerun.pages} pages); ${errors(fresh)}; ${clientTotal} requests counted by the client, ${check}`);
    }
  }
  return samples;
}

export async function benchRegistration(options: RegistrationBenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  const results: FleetSamples[] = [];
  for (const fleet of options.fleets) {
    const s = await benchFleet(fleet.sites, fleet.runs, options.concurrency);
    results.push(s);
    const what = `aggregator registration of ${s.sites} sites over mTLS (concurrency ${options.concurrency})`;
    const note = s.notes[0];
    figures.push(
      figure(`registration_rate_${s.sites}`, what, 'sites/s', s.rate, { op: '>=', value: 200 }),
      figure(`registration_requests_per_site_${s.sites}`, `${s.sites} new sites: requests per site`, 'req/site', s.perSite, undefined, note),
      figure(`registration_list_gets_${s.sites}`, `${s.sites} new sites: EndDeviceList GETs (pageSize ${POLICY.pageSize})`, 'per 1000 sites', s.listPerSite),
      figure(`registration_rerun_rate_${s.sites}`, `${s.sites} sites already registered (second run): registration rate`, 'sites/s', s.rerunRate),
      figure(`registration_rerun_requests_per_site_${s.sites}`, `${s.sites} sites already registered (second run): requests per site`, 'req/site', s.rerunPerSite, undefined, s.rerunNotes[0]),
      figure(`registration_rerun_list_gets_${s.sites}`, `${s.sites} sites already registered (second run): EndDeviceList GETs`, 'per 1000 sites', s.rerunListPerSite),
    );
  }
  if (results.length >= 2) {
    // Flat = the fleet's discovery and index are shared: the ratio of the median requests per site of the largest
    // and the smallest fleet.
    const small = results[0]!;
    const large = results[results.length - 1]!;
    figures.push(
      figure('registration_requests_ratio', `requests per site, ${large.sites} / ${small.sites} new sites`, '×', [median(large.perSite) / median(small.perSite)], { op: '<=', value: 1.05 }),
      figure('registration_rerun_requests_ratio', `requests per site, ${large.sites} / ${small.sites} registered sites (second run)`, '×', [median(large.rerunPerSite) / median(small.rerunPerSite)], { op: '<=', value: 1.05 }),
    );
  }
  return figures;
}
