/**
 * Feed fan-out: many WebSocket clients on `charger-controller run` (a child process) while a meter publishes 1 Hz
 * readings. The clients are ordinary ones (no `chart` subscription), so a reading tick sends them one frame: the
 * reading (the chart's reading steps are not public `state` messages). Server CPU comes from /proc; delivery
 * delay = receive time − the message's `ts` (same machine clock, 1 ms resolution), measured in this process,
 * which hosts all clients. Goals (issue 15): under 2.5 % of a core and a p99 under 20 ms for 1 000 clients.
 */
import { startMeterSimulator } from '../simulators/lem-dcbm/index.js';
import { startRunChild } from './process.js';
import { cpuTimeMs, figure, percentile, sleep, type Figure } from './stats.js';
import { BenchFeedClient } from './ws-client.js';

async function once(clients: number, windowMs: number): Promise<{ cpuPercent: number; p99: number; messages: number }> {
  const sim = await startMeterSimulator({ port: 0 });
  const controller = await startRunChild(sim.port, { feed: { allow_read_only: true, heartbeat_ms: 30_000 } });
  const feeds: BenchFeedClient[] = [];
  for (let i = 0; i < clients; i += 1) {
    feeds.push(new BenchFeedClient(controller.feedUrl, undefined, { measure: true }));
    if (i % 200 === 199) await Promise.all(feeds.slice(-200).map((f) => f.opened));
  }
  await Promise.all(feeds.map((f) => f.opened));
  await sleep(2000);
  for (const f of feeds) f.delays!.length = 0;
  const cpu0 = await cpuTimeMs(controller.pid);
  const t0 = performance.now();
  await sleep(windowMs);
  const cpu1 = await cpuTimeMs(controller.pid);
  const elapsed = performance.now() - t0;
  const delays = feeds.flatMap((f) => f.delays!);
  for (const f of feeds) f.close();
  await controller.stop();
  await sim.close();
  return { cpuPercent: ((cpu1 - cpu0) / elapsed) * 100, p99: percentile(delays, 99), messages: delays.length };
}

export async function benchFanout(options: { clients: number; bigClients: number; windowMs: number; runs: number }): Promise<Figure[]> {
  const cpu: number[] = [];
  const p99: number[] = [];
  let messages = 0;
  for (let run = 0; run < options.runs; run += 1) {
    const r = await once(options.clients, options.windowMs);
    cpu.push(r.cpuPercent);
    p99.push(r.p99);
    messages = r.messages;
  }
  const big = await once(options.bigClients, options.windowMs);
  const note = `${options.windowMs / 1000} s window; about ${(messages / (options.windowMs / 1000) / options.clients).toFixed(1)} messages/s per client (1 Hz readings; public state messages only on changes)`;
  return [
    figure('fanout_cpu', `feed fan-out to ${options.clients} clients: server CPU`, '% of one core', cpu, { op: '<', value: 2.5 }, note),
    figure('fanout_p99', `feed fan-out to ${options.clients} clients: p99 delivery`, 'ms', p99, { op: '<', value: 20 }, note),
    figure('fanout_big_cpu', `feed fan-out to ${options.bigClients} clients: server CPU (one run)`, '% of one core', [big.cpuPercent]),
    figure('fanout_big_p99', `feed fan-out to ${options.bigClients} clients: p99 delivery (one run)`, 'ms', [big.p99]),
  ];
}
