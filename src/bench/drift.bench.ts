/**
 * Drift of the reading schedule: the controller's ticker against the reference driver's loop (sleep one period,
 * then the request), both against the simulator, measured where the meter sees them (request arrival times).
 * 600 ticks are the count of 10 minutes at 1 Hz; the bench runs them at a shorter period and says so.
 */
import { parseMeterConfig } from '../config/meter.config.js';
import { createMeterDriver } from '../adapters/lem-dcbm/meter.driver.js';
import { DcbmClient } from '../adapters/lem-dcbm/dcbm.client.js';
import { startMeterSimulator } from '../simulators/lem-dcbm/index.js';
import { figure, percentile, sleep, type Figure } from './stats.js';

function schedule(times: number[], periodMs: number): { drift: number; jitterP99: number } {
  const intervals = times.slice(1).map((t, i) => t - times[i]!);
  return {
    drift: times.at(-1)! - times[0]! - (times.length - 1) * periodMs,
    jitterP99: percentile(intervals.map((d) => Math.abs(d - periodMs)), 99),
  };
}

async function controllerTicks(ticks: number, periodMs: number): Promise<number[]> {
  const sim = await startMeterSimulator({ port: 0 });
  const config = parseMeterConfig({ ip_address: '127.0.0.1', port: sim.port, reading_interval_ms: periodMs, warmup_ms: 600_000 });
  if (!config.ok) throw new Error(config.problems.join('; '));
  const driver = createMeterDriver(config.value);
  driver.actor.start();
  const reads = () => sim.requests.entries().filter((r) => r.path.endsWith('/livemeasure'));
  while (reads().length < ticks) await sleep(periodMs / 2);
  await driver.stop();
  await sim.close();
  return reads().slice(0, ticks).map((r) => r.atMs);
}

async function referenceLoop(ticks: number, periodMs: number): Promise<number[]> {
  const sim = await startMeterSimulator({ port: 0 });
  const client = new DcbmClient({ host: '127.0.0.1', port: sim.port, timeoutMs: 5000 });
  for (let i = 0; i < ticks; i += 1) {
    await sleep(periodMs); // the reference driver: sleep 1 s, then read; its period is 1 s + the request time
    await client.getLiveMeasure('v2');
  }
  await client.close();
  await sim.close();
  return sim.requests.entries().filter((r) => r.path.endsWith('/livemeasure')).map((r) => r.atMs);
}

export async function benchDrift(options: { ticks: number; periodMs: number; runs: number }): Promise<Figure[]> {
  const scale = 600 / (options.ticks - 1);
  const drift: number[] = [];
  const jitter: number[] = [];
  const reference: number[] = [];
  for (let run = 0; run < options.runs; run += 1) {
    const ours = schedule(await controllerTicks(options.ticks, options.periodMs), options.periodMs);
    drift.push(Math.abs(ours.drift) * scale);
    jitter.push(ours.jitterP99);
    reference.push(schedule(await referenceLoop(options.ticks, options.periodMs), options.periodMs).drift * scale);
  }
  const note = `${options.ticks} ticks at ${options.periodMs} ms per run, drift scaled ×${scale.toFixed(2)} to 600 ticks (10 min at 1 Hz)`;
  return [
    figure('drift_cumulative', 'reading schedule: cumulative drift over 600 ticks (10 min at 1 Hz)', 'ms', drift, { op: '<', value: 10 }, note),
    figure('drift_jitter_p99', 'reading schedule: p99 period jitter', 'ms', jitter, undefined, note),
    figure('drift_reference', 'reference driver loop (sleep + request): cumulative drift, same scale', 'ms', reference, undefined, note),
  ];
}
