/**
 * `npm run bench`: measures the controller on this machine against the simulators on loopback, prints one table
 * and writes bench/results.json. Benchmarks never fail `npm test`; `--quick` runs tiny sizes (the smoke test).
 *
 *   node dist/src/bench/run.js [--quick] [--only xml,registration,drift,commands,fanout,footprint,startup] [--out file]
 */
import { cpus } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../project-root.js';
import { benchCommands, benchFootprint, benchStartup } from './controller.bench.js';
import { benchDrift } from './drift.bench.js';
import { benchFanout } from './fanout.bench.js';
import { benchRegistration } from './registration.bench.js';
import type { Figure } from './stats.js';
import { benchXml } from './xml.bench.js';

export const SIZES = {
  full: {
    xml: { docs: 20_000, runs: 5 },
    registration: { fleets: [{ sites: 1000, runs: 3 }, { sites: 10_000, runs: 1 }], concurrency: 16 },
    drift: { ticks: 201, periodMs: 100, runs: 3 },
    commands: { cycles: 200, runs: 3 },
    fanout: { clients: 1000, bigClients: 10_000, windowMs: 15_000, runs: 3 },
    footprint: { transactions: 10_000, runs: 1 },
    startup: { runs: 5 },
  },
  quick: {
    xml: { docs: 200, runs: 2 },
    registration: { fleets: [{ sites: 10, runs: 1 }, { sites: 30, runs: 1 }], concurrency: 4 },
    drift: { ticks: 11, periodMs: 100, runs: 1 },
    commands: { cycles: 5, runs: 1 },
    fanout: { clients: 10, bigClients: 20, windowMs: 1500, runs: 1 },
    footprint: { transactions: 20, runs: 1 },
    startup: { runs: 1 },
  },
} as const;

export type BenchName = keyof (typeof SIZES)['full'];
export const BENCHES: BenchName[] = ['xml', 'registration', 'drift', 'commands', 'fanout', 'footprint', 'startup'];

export async function runBenches(names: BenchName[], quick: boolean, log: (line: string) => void = () => undefined): Promise<Figure[]> {
  const sizes = quick ? SIZES.quick : SIZES.full;
  const figures: Figure[] = [];
  for (const name of names) {
    const started = performance.now();
    log(`running ${name} ...`);
    switch (name) {
      case 'xml': figures.push(...benchXml(sizes.xml)); break;
      case 'registration': figures.push(...await benchRegistration(sizes.registration)); break;
      case 'drift': figures.push(...await benchDrift(sizes.drift)); break;
      case 'commands': figures.push(...await benchCommands(sizes.commands)); break;
      case 'fanout': figures.push(...await benchFanout(sizes.fanout)); break;
      case 'footprint': figures.push(...await benchFootprint(sizes.footprint)); break;
      case 'startup': figures.push(...await benchStartup(sizes.startup)); break;
    }
    log(`  ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return figures;
}

export function table(figures: Figure[]): string {
  const rows = figures.map((f) => [f.label, `${f.median} ${f.unit}`, `${f.min} … ${f.max}`, String(f.runs), f.goal, f.pass === null ? '' : f.pass ? 'ok' : 'MISSED']);
  const head = ['figure', 'median', 'min … max', 'runs', 'goal', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, out: { type: 'string' } } });
  const names = values.only ? values.only.split(',').map((s) => s.trim()) as BenchName[] : BENCHES;
  for (const n of names) if (!BENCHES.includes(n)) throw new Error(`unknown bench "${n}"; known: ${BENCHES.join(', ')}`);
  const figures = await runBenches(names, values.quick ?? false, (line) => process.stderr.write(`${line}\n`));
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}` };
  process.stdout.write(`\ncharger-controller bench on ${machine.cores} cores (${machine.cpu}), Node ${machine.node}${values.quick ? ' [quick sizes]' : ''}\n\n${table(figures)}\n`);
  const out = values.out ?? join(projectRoot(), 'bench/results.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), quick: values.quick ?? false, machine, figures }, null, 2)}\n`);
  process.stdout.write(`\nwrote ${out}\n`);
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
