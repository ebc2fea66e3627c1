/**
 * The DER client (issue: the charger obeys the grid), measured against the 2030.5 test server:
 *
 * - **start latency**: from a control's start (already fetched) to its `grid.limit` from the chart, which the
 *   wiring publishes on the feed synchronously (goal: p99 under 100 ms);
 * - **new control → limit** as a function of the DERProgramList/DERControlList pollRate: a control created at a
 *   random moment is applied after the next poll (expected about half a pollRate on average, at most one);
 * - **CPU and RSS** of one site polling at 60 s and of an aggregator with N sites at 60 s (bounded concurrency 16),
 *   against `simulate sep-server` in its own process over mutual TLS, so only the client is measured (goal: under
 *   10 % of one core for 1,000 sites).
 *
 * Latency runs use an in-process server over plain HTTP with x-forwarded-client-cert (no TLS cost in the figure).
 */
import type { DerClientEmitted } from '../../machines/der-client.machine.js';
import { createDerClient, type DerClientActor } from '../adapters/sep2/der-client.service.js';
import { Limiter } from '../adapters/sep2/limiter.js';
import { registerSite } from '../adapters/sep2/registration.service.js';
import { Sep2Client } from '../adapters/sep2/sep2.client.js';
import type { RegistrationPolicy, SiteRegistration } from '../../machines/registration/registration.types.js';
import { startSep2Server } from '../simulators/sep2-server/index.js';
import { registerFleet, sites as fleetSites, withServer } from './registration.bench.js';
import { figure, percentile, round, sleep, type Figure } from './stats.js';

export interface DerBenchOptions {
  /** Controls played back to back for the start latency. */
  controls: number;
  /** Poll rates (s) for new control → limit, with samples each. */
  pollRates: readonly number[];
  samples: number;
  /** Fleets measured for CPU and RSS, and the measuring window. */
  fleets: readonly number[];
  windowS: number;
}

const LFDI = '3E4F45AB31EDFE5B67E343E5E4562E3100088888';
const RATED_W = 7000;
const POLICY: RegistrationPolicy = {
  dcapPath: '/dcap', pageSize: 100, maxPages: 10_000, inBandRegistration: true, csipaus: 'auto', createDer: true, legacyPathFallback: false,
  maxAttempts: 5, retryBaseMs: 50, retryMaxMs: 500, outOfBandPollMs: 60_000,
};
const SITE: SiteRegistration = {
  name: 'bench', lfdi: LFDI, deviceCategory: 0x020000,
  derCapability: { modesSupported: 0x00500088, rtgMaxW: RATED_W, type: 82, doeModesSupported: 0x0f },
  derSettings: { modesEnabled: 0x00500088, setGradW: 0, setMaxW: RATED_W, doeModesEnabled: 0x0f },
  derStatus: { genConnectStatus: 1 },
};

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check();) {
    if (Date.now() > deadline) throw new Error(`der bench: timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** An in-process server with one registered site and its DER client; `limits` are the emitted limits with times. */
async function singleSite(pollRateS: number) {
  const server = await startSep2Server({ profile: 'envoy', pollRates: { FunctionSetAssignmentsList: pollRateS, DERProgramList: pollRateS, DERList: pollRateS, EndDeviceList: pollRateS } });
  const client = new Sep2Client({ baseUrl: server.url, forwardedClientCert: LFDI, timeoutMs: 5000 });
  const outcome = await registerSite(SITE, { client, policy: POLICY });
  if (!outcome.ok) throw new Error(`der bench: registration failed: ${JSON.stringify(outcome.failure)}`);
  server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: RATED_W } });
  const limits: { atMs: number; mrid: string | null }[] = [];
  let actor: DerClientActor | undefined;
  return {
    server,
    limits,
    start(): void {
      actor = createDerClient({ client, site: SITE.name, lfdi: LFDI, endDeviceHref: outcome.endDevice, endDeviceRateS: pollRateS, ratedW: RATED_W, retryMs: 1000 }).actor;
      actor.on('*', (e) => {
        const event = e as DerClientEmitted;
        if (event.type === 'grid.limit') limits.push({ atMs: performance.timeOrigin + performance.now(), mrid: event.limit.mrid });
      });
      actor.start();
    },
    async close(): Promise<void> {
      actor?.stop();
      await client.close();
      await server.close();
    },
  };
}

async function startLatency(controls: number): Promise<number[]> {
  const rig = await singleSite(1);
  try {
    const startS = Math.floor(Date.now() / 1000) + 3;
    // 1 s controls with 1 s of default between: each start is an edge the chart's alarm must hit.
    const made = Array.from({ length: controls }, (_, i) => rig.server.handler.createControl({ start: startS + 2 * i, duration: 1, opModImpLimW: 1000 + i })[0]!);
    rig.start();
    await until(() => made.every((c) => rig.limits.some((l) => l.mrid === c.mrid)), (2 * controls + 6) * 1000, 'every control applied');
    return made.map((c) => rig.limits.find((l) => l.mrid === c.mrid)!.atMs - c.start * 1000);
  } finally {
    await rig.close();
  }
}

async function newControlLatency(pollRateS: number, samples: number): Promise<number[]> {
  const rig = await singleSite(pollRateS);
  try {
    rig.start();
    await until(() => rig.limits.length > 0, 5000 + 2000 * pollRateS, 'the default applied');
    const out: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      await sleep(Math.random() * pollRateS * 1000); // a random phase against the polls
      const created = Date.now();
      const control = rig.server.handler.createControl({ startInS: -1, duration: 3600, opModImpLimW: 2000 + i })[0]!;
      await until(() => rig.limits.some((l) => l.mrid === control.mrid), 3000 + 2000 * pollRateS, 'the new control applied');
      out.push(rig.limits.find((l) => l.mrid === control.mrid)!.atMs - created);
      rig.server.handler.cancelControl({ mrid: control.mrid });
      await until(() => rig.limits.at(-1)?.mrid !== control.mrid, 3000 + 2000 * pollRateS, 'the cancellation applied');
    }
    return out;
  } finally {
    await rig.close();
  }
}

/** N aggregator sites against `simulate sep-server` (its own process): the client's CPU share and RSS over the window. */
async function fleetLoad(count: number, windowS: number): Promise<{ cpuPct: number; rssMb: number; rssGrowthMb: number; polls: number }> {
  const { result } = await withServer(async (client, counter, { adminUrl }) => {
    if (!adminUrl) throw new Error('der bench: the server gave no admin URL');
    const fleet = fleetSites(count, 7);
    const registered = await registerFleet(fleet, client, counter, 16);
    const admin = async (path: string, body: unknown): Promise<void> => {
      const res = await fetch(`${adminUrl}${path}`, { method: path === '/_sim/poll-rates' ? 'PUT' : 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`der bench: ${path} answered ${res.status}: ${await res.text()}`);
    };
    await admin('/_sim/programs', { primacy: 0, defaultControl: { opModImpLimW: 5000 } });
    await admin('/_sim/poll-rates', { FunctionSetAssignmentsList: 60, DERProgramList: 60, DERList: 60, EndDeviceList: 60 });
    const limit = new Limiter(16);
    const known = new Set<string>();
    const actors = registered.outcomes.map((o, i) => {
      if (!o.ok) throw new Error(`der bench: site ${i} not registered`);
      const { actor } = createDerClient({ client, site: o.site, lfdi: o.lfdi, endDeviceHref: o.endDevice, endDeviceRateS: 60, ratedW: 7000, retryMs: 5000, limit });
      actor.on('*', (e) => {
        if ((e as DerClientEmitted).type === 'grid.limit') known.add(o.site);
      });
      return actor;
    });
    try {
      for (const actor of actors) actor.start();
      await until(() => known.size === count, 120_000, `all ${count} sites with a limit`);
      await sleep(2000);
      counter.take();
      global.gc?.();
      const rssBefore = process.memoryUsage().rss;
      const cpuBefore = process.cpuUsage();
      const wallBefore = performance.now();
      await sleep(windowS * 1000);
      const cpu = process.cpuUsage(cpuBefore);
      const wallMs = performance.now() - wallBefore;
      const rss = process.memoryUsage().rss;
      return { cpuPct: (100 * (cpu.user + cpu.system)) / 1000 / wallMs, rssMb: rss / 2 ** 20, rssGrowthMb: (rss - rssBefore) / 2 ** 20, polls: counter.take().total };
    } finally {
      for (const actor of actors) actor.stop();
    }
  }, ['--admin-port', '0']);
  return result;
}

export async function benchDer(options: DerBenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  const starts = await startLatency(options.controls);
  figures.push(
    figure('der_start_to_limit_p50', `control start (already fetched) → grid.limit, p50 of ${starts.length}`, 'ms', [percentile(starts, 50)], { op: '<', value: 100 }),
    figure('der_start_to_limit_p99', `control start (already fetched) → grid.limit, p99 of ${starts.length}`, 'ms', [percentile(starts, 99)], { op: '<', value: 100 }),
  );
  for (const rate of options.pollRates) {
    const samples = await newControlLatency(rate, options.samples);
    figures.push(figure(`der_new_control_to_limit_${rate}s`, `new control on the server → grid.limit at pollRate ${rate} s (median; max ${round(Math.max(...samples))} ms)`, 'ms', samples, { op: '<', value: rate * 1000 + 1000 }));
  }
  for (const count of options.fleets) {
    const load = await fleetLoad(count, options.windowS);
    const what = count === 1 ? 'one site polling at 60 s' : `an aggregator of ${count} sites polling at 60 s (concurrency 16)`;
    figures.push(
      figure(`der_cpu_${count}`, `${what}: CPU of the client over ${options.windowS} s`, '% of a core', [load.cpuPct], count >= 1000 ? { op: '<', value: 10 } : undefined, `${load.polls} requests in the window`),
      figure(`der_rss_${count}`, `${what}: RSS of the client process (growth in the window ${round(load.rssGrowthMb)} MB)`, 'MB', [load.rssMb]),
    );
  }
  return figures;
}
