/**
 * The controller process (`charger-controller run`, a child process) against the LEM simulator in this process:
 * command overhead over the command channel, RSS (idle, in a transaction, growth over many transactions), and
 * start-up time to the first published reading.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../adapters/journal/journal.js';
import { DcbmClient } from '../adapters/lem-dcbm/dcbm.client.js';
import { CONTROLLER_NODE_FLAGS } from '../runtime-flags.js';
import { startMeterSimulator } from '../simulators/lem-dcbm/index.js';
import { benchLibraries } from './footprint.bench.js';
import { BENCH_TOKEN, startRunChild } from './process.js';
import { figure, percentile, round, rssMb, sleep, type Figure } from './stats.js';
import { BenchFeedClient } from './ws-client.js';

const request = (id: string) => ({ evse_id: 'DE*BEN*E1', transaction_id: id, identification_status: 'ASSIGNED', identification_type: 'NONE', identification_flags: [] });

/** The device requests a start and a stop cost, timed with the same HTTP client, on the same simulator. */
async function rawRoundTrips(client: DcbmClient, id: string): Promise<{ start: number; stop: number }> {
  const t0 = performance.now();
  await client.putSettings({ time: { utc: new Date().toISOString() } });
  await client.putSettings({ time: { tz: '+00:00' } });
  await client.putSettings({ time: { dst: { activated: false, offset: 60, start: { order: 'last', day: 'sunday', month: 'march', hour: 'T01:00Z' }, end: { order: 'last', day: 'sunday', month: 'october', hour: 'T01:00Z' } } } });
  await client.startTransaction('v2', id, { evseId: 'DE*BEN*E1', transactionId: id, clientId: `,${id}`, tariffId: 0, TT: '', UV: '', UD: '', cableId: 0, userData: '', SC: 0 });
  const t1 = performance.now();
  await client.stopTransaction('v2', id);
  await client.getOcmf('v2', id);
  return { start: t1 - t0, stop: performance.now() - t1 };
}

/**
 * One fsync'd journal commit (WAL, synchronous = FULL) on the disk the bench runs on, as the controller makes them:
 * a start commits twice before it is answered (requested, answered), a stop twice (requested, record stored).
 */
function journalCommits(count: number): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'cc-bench-journal-'));
  const journal = Journal.open(join(dir, 'journal.sqlite'));
  const samples: number[] = [];
  const timed = (work: () => void): void => {
    const t0 = performance.now();
    work();
    samples.push(performance.now() - t0);
  };
  try {
    for (let i = 0; i < count; i += 1) {
      const id = `commit-${i}`;
      timed(() => journal.startRequested('bench', 'DE*BEN*E1', id, `r${i}`, request(id)));
      timed(() => journal.startAnswered('bench', id, `r${i}`, { status: 'OK' }));
      timed(() => journal.stopRequested('bench', 'DE*BEN*E1', id, `s${i}`, 'command'));
      timed(() => journal.stopAnswered('bench', 'DE*BEN*E1', { requestId: `s${i}`, transactionId: id, final: true, response: { status: 'OK', signed_meter_value: { signed_meter_data: 'OCMF|{}|{}' } } }));
    }
  } finally {
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return samples;
}

export async function benchCommands(options: { cycles: number; runs: number }): Promise<Figure[]> {
  const commits = journalCommits(Math.max(50, options.cycles));
  const commitP50 = percentile(commits, 50);
  const commitP99 = percentile(commits, 99);
  const p50s: number[][] = [[], []];
  const p99s: number[][] = [[], []];
  for (let run = 0; run < options.runs; run += 1) {
    const sim = await startMeterSimulator({ port: 0, logbookCapacity: 1_000_000, requestLogLimit: 100 });
    const controller = await startRunChild(sim.port, { meter: { reading_interval_ms: 1000 } });
    const feed = new BenchFeedClient(controller.feedUrl, BENCH_TOKEN);
    await feed.opened;
    const raw = new DcbmClient({ host: '127.0.0.1', port: sim.port, timeoutMs: 5000 });
    await sleep(500);
    const overhead: number[][] = [[], []];
    for (let i = 0; i < options.cycles; i += 1) {
      const id = `bench-${run}-${i}`;
      const t0 = performance.now();
      const started = await feed.command({ type: 'start_transaction', request: request(id) });
      const t1 = performance.now();
      const stopped = await feed.command({ type: 'stop_transaction', transactionId: id });
      const t2 = performance.now();
      if (!started.ok || !stopped.ok) throw new Error(`command failed: ${JSON.stringify({ started, stopped })}`);
      const device = await rawRoundTrips(raw, `raw-${run}-${i}`);
      overhead[0]!.push(t1 - t0 - device.start);
      overhead[1]!.push(t2 - t1 - device.stop);
    }
    for (const k of [0, 1]) {
      p50s[k]!.push(percentile(overhead[k]!, 50));
      p99s[k]!.push(percentile(overhead[k]!, 99));
    }
    feed.close();
    await raw.close();
    await controller.stop();
    await sim.close();
  }
  const note = `${options.cycles} start/stop pairs per run; overhead = command round trip over the feed − the same device requests timed directly (start: 3 time-sync PUTs + POST; stop: PUT + OCMF GET)`;
  // Each command waits for two commits before its answer; the rest is the controller's own overhead.
  const rest = (samples: number[]) => samples.map((ms) => ms - 2 * commitP50);
  const restNote = `${note}; less 2 × the journal commit p50 (${round(commitP50)} ms): a start and a stop each wait for two fsync'd commits before they are answered`;
  return [
    figure('cmd_start_p50', 'start_transaction controller overhead, p50 (journal included)', 'ms', p50s[0]!, undefined, note),
    figure('cmd_start_p99', 'start_transaction controller overhead, p99 (journal included)', 'ms', p99s[0]!, undefined, note),
    figure('cmd_stop_p50', 'stop_transaction controller overhead, p50 (journal included)', 'ms', p50s[1]!, undefined, note),
    figure('cmd_stop_p99', 'stop_transaction controller overhead, p99 (journal included)', 'ms', p99s[1]!, undefined, note),
    figure('journal_commit_p50', "journal commit (one fsync'd SQLite transaction), p50", 'ms', [commitP50], undefined, `${commits.length} commits of the four transaction steps, WAL with synchronous = FULL, in ${tmpdir()}`),
    figure('journal_commit_p99', "journal commit (one fsync'd SQLite transaction), p99", 'ms', [commitP99], undefined, `${commits.length} commits, as above`),
    figure('cmd_start_rest_p50', 'start_transaction overhead without the journal commits, p50', 'ms', rest(p50s[0]!), { op: '<', value: 1 }, restNote),
    figure('cmd_start_rest_p99', 'start_transaction overhead without the journal commits, p99', 'ms', rest(p99s[0]!), { op: '<', value: 5 }, restNote),
    figure('cmd_stop_rest_p50', 'stop_transaction overhead without the journal commits, p50', 'ms', rest(p50s[1]!), { op: '<', value: 1 }, restNote),
    figure('cmd_stop_rest_p99', 'stop_transaction overhead without the journal commits, p99', 'ms', rest(p99s[1]!), { op: '<', value: 5 }, restNote),
  ];
}

/**
 * RSS of the controller process against its floor (footprint.bench.ts: node alone plus the libraries a one-meter,
 * JSON-config, no-registration run loads): idle, in a transaction, and after many transactions. Issue 16's goals:
 * idle within 5 MB of the floor, and after 10 000 transactions within 15 MB of idle.
 */
export async function benchFootprint(options: { transactions: number; runs: number; libraryRuns: number; settleMs: number }): Promise<Figure[]> {
  const libraries = await benchLibraries({ runs: options.libraryRuns, settleMs: options.settleMs });
  const idle: number[] = [];
  const inTransaction: number[] = [];
  const growth: number[] = [];
  const final: number[] = [];
  for (let run = 0; run < options.runs; run += 1) {
    // A real meter's logbook fills after ~40 000 events and then refuses starts: give the simulated one room.
    const sim = await startMeterSimulator({ port: 0, capacity: 1000, searchDepth: 100, logbookCapacity: 1_000_000, requestLogLimit: 100 });
    const controller = await startRunChild(sim.port);
    const feed = new BenchFeedClient(controller.feedUrl, BENCH_TOKEN);
    await feed.opened;
    await sleep(5000);
    idle.push(await rssMb(controller.pid));
    await feed.command({ type: 'start_transaction', request: request(`rss-${run}`) });
    await sleep(3000);
    inTransaction.push(await rssMb(controller.pid));
    await feed.command({ type: 'stop_transaction', transactionId: `rss-${run}` });
    const warm = Math.min(1000, Math.floor(options.transactions / 10));
    let baseline = 0;
    for (let i = 0; i < options.transactions; i += 1) {
      const id = `rss-${run}-${i}`;
      const started = await feed.command({ type: 'start_transaction', request: request(id) });
      const stopped = await feed.command({ type: 'stop_transaction', transactionId: id });
      if (!started.ok || !stopped.ok || (started.result as { status?: string }).status !== 'OK') throw new Error(`transaction ${i} failed: ${JSON.stringify({ started, stopped })}`);
      if (i === warm) baseline = await rssMb(controller.pid);
    }
    await sleep(2000);
    const end = await rssMb(controller.pid);
    final.push(end);
    growth.push(end - baseline);
    feed.close();
    await controller.stop();
    await sim.close();
  }
  const warm = Math.min(1000, Math.floor(options.transactions / 10));
  const floor = libraries.floorMb;
  const run = `node ${CONTROLLER_NODE_FLAGS.join(' ')} (as npm start and the systemd unit run it), 5 s after the feed client connected, no forced GC`;
  return [
    ...libraries.figures,
    figure('rss_idle', 'RSS of charger-controller run, idle (one meter)', 'MB', idle, undefined, run),
    figure('rss_idle_over_floor', 'idle RSS − floor', 'MB', idle.map((mb) => mb - floor), { op: '<=', value: 5 }, `rss_idle − rss_floor (${round(floor)} MB)`),
    figure('rss_idle_over_floor_in_use', 'idle RSS − floor with the libraries in use', 'MB', idle.map((mb) => mb - libraries.floorInUseMb), undefined,
      `rss_idle − rss_floor_in_use (${round(libraries.floorInUseMb)} MB): the controller's own code and state`),
    figure('rss_transaction', 'RSS during a transaction', 'MB', inTransaction),
    figure('rss_after_many', `RSS after ${options.transactions} transactions`, 'MB', final, undefined, '2 s after the last stop'),
    figure('rss_after_many_over_idle', `RSS after ${options.transactions} transactions − idle`, 'MB', final.map((mb, i) => mb - idle[i]!), { op: '<=', value: 15 }, 'rss_after_many − rss_idle of the same run'),
    figure('rss_growth', `RSS growth over ${options.transactions} transactions after warm-up`, 'MB', growth, { op: '<', value: 5 },
      `RSS after ${options.transactions} start/stop cycles − RSS after the first ${warm} (warm-up): a leak shows here`),
  ];
}

export async function benchStartup(options: { runs: number }): Promise<Figure[]> {
  const samples: number[] = [];
  for (let run = 0; run < options.runs; run += 1) {
    const sim = await startMeterSimulator({ port: 0 });
    let firstReading: number | undefined;
    const controller = await startRunChild(sim.port, {
      logLevel: 'trace',
      onStdout: (chunk) => {
        if (firstReading !== undefined) return;
        const line = chunk.split('\n').find((l) => l.includes('"msg":"reading"'));
        if (line) firstReading = Date.parse((JSON.parse(line) as { time: string }).time);
      },
    });
    for (let i = 0; i < 200 && firstReading === undefined; i += 1) await sleep(25);
    if (firstReading === undefined) throw new Error('no reading within 5 s');
    samples.push(firstReading - controller.spawnedAt);
    await controller.stop();
    await sim.close();
  }
  return [figure('startup_first_reading', 'start-up: process start to first published reading', 'ms', samples)];
}
