/**
 * `npm run bench`: measures the controller on this machine against the simulators on loopback, prints one table
 * and writes bench/results.json. Benchmarks never fail `npm test`; `--quick` runs tiny sizes (the smoke test).
 * `--merge` keeps the other benchmarks' figures in the file and replaces only those of the benchmarks run (same
 * machine and sizes only); `benches` in the file says when each was last measured.
 *
 *   node dist/src/bench/run.js [--quick] [--only xml,registration,drift,commands,fanout,footprint,startup,telemetry,der] [--merge] [--out file]
 */
import { cpus } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../project-root.js';
import { benchCommands, benchFootprint, benchStartup } from './controller.bench.js';
import { benchDer } from './der.bench.js';
import { benchDrift } from './drift.bench.js';
import { benchFanout } from './fanout.bench.js';
import { benchRegistration } from './registration.bench.js';
import { benchTelemetry } from './telemetry.bench.js';
import type { Figure } from './stats.js';
import { benchXml } from './xml.bench.js';

export const SIZES = {
  full: {
    xml: { docs: 20_000, runs: 5 },
    registration: { fleets: [{ sites: 1000, runs: 3 }, { sites: 10_000, runs: 1 }], concurrency: 16 },
    drift: { ticks: 201, periodMs: 100, runs: 3 },
    commands: { cycles: 200, runs: 3 },
    fanout: { clients: 1000, bigClients: 10_000, windowMs: 15_000, runs: 3 },
    footprint: { transactions: 10_000, runs: 1, libraryRuns: 3, settleMs: 500 },
    startup: { runs: 5 },
    telemetry: { cases: [{ sites: 1, postRateS: 60, intervals: 2 }, { sites: 1, postRateS: 5, intervals: 6 }, { sites: 1000, postRateS: 60, intervals: 2 }] },
    der: { controls: 30, pollRates: [1, 2, 5], samples: 10, fleets: [1, 1000], windowS: 120 },
  },
  quick: {
    xml: { docs: 200, runs: 2 },
    registration: { fleets: [{ sites: 10, runs: 1 }, { sites: 30, runs: 1 }], concurrency: 4 },
    drift: { ticks: 11, periodMs: 100, runs: 1 },
    commands: { cycles: 5, runs: 1 },
    fanout: { clients: 10, bigClients: 20, windowMs: 1500, runs: 1 },
    footprint: { transactions: 20, runs: 1, libraryRuns: 1, settleMs: 100 },
    startup: { runs: 1 },
    telemetry: { cases: [{ sites: 1, postRateS: 2, intervals: 1 }, { sites: 20, postRateS: 2, intervals: 1 }] },
    der: { controls: 3, pollRates: [1], samples: 2, fleets: [1, 10], windowS: 2 },
  },
} as const;

export type BenchName = keyof (typeof SIZES)['full'];
export const BENCHES: BenchName[] = ['xml', 'registration', 'drift', 'commands', 'fanout', 'footprint', 'startup', 'telemetry', 'der'];

export async function runBenches(names: BenchName[], quick: boolean, log: (line: string) => void = () => undefined): Promise<Figure[]> {
  const sizes = quick ? SIZES.quick : SIZES.full;
  const figures: Figure[] = [];
  for (const name of names) {
    const started = performance.now();
    log(`running ${name} ...`);
    const first = figures.length;
    switch (name) {
      case 'xml': figures.push(...benchXml(sizes.xml)); break;
      case 'registration': figures.push(...await benchRegistration(sizes.registration)); break;
      case 'drift': figures.push(...await benchDrift(sizes.drift)); break;
      case 'commands': figures.push(...await benchCommands(sizes.commands)); break;
      case 'fanout': figures.push(...await benchFanout(sizes.fanout)); break;
      case 'footprint': figures.push(...await benchFootprint(sizes.footprint)); break;
      case 'startup': figures.push(...await benchStartup(sizes.startup)); break;
      case 'telemetry': figures.push(...await benchTelemetry(sizes.telemetry)); break;
      case 'der': figures.push(...await benchDer(sizes.der)); break;
    }
    for (const f of figures.slice(first)) f.bench = name;
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

interface Results {
  date: string;
  quick: boolean;
  machine: { cores: number; cpu: string; node: string; platform: string };
  /** When each benchmark's figures were measured (a merged file holds several runs). */
  benches?: Record<string, string>;
  figures: Figure[];
}

/**
 * `previous` with the figures of the benchmarks in `fresh` replaced, in place (where the first of a benchmark's old
 * figures was, else at the end); a figure without a bench tag, from an older file, is replaced when `fresh` has
 * its id. Refuses to mix machines, Node versions or sizes.
 */
export function mergeResults(previous: Results, fresh: Results): Results {
  const problem = mergeProblem(previous, fresh);
  if (problem) throw new Error(problem);
  const ran = new Set(fresh.figures.map((f) => f.bench));
  const benchOf = (f: Figure): string | undefined => f.bench ?? fresh.figures.find((g) => g.id === f.id)?.bench;
  const figures: Figure[] = [];
  const placed = new Set<string | undefined>();
  const place = (bench: string | undefined): void => {
    if (placed.has(bench)) return;
    placed.add(bench);
    figures.push(...fresh.figures.filter((g) => g.bench === bench));
  };
  for (const f of previous.figures) {
    const bench = benchOf(f);
    if (bench !== undefined && ran.has(bench)) place(bench);
    else figures.push(f);
  }
  for (const bench of ran) place(bench);
  // A file from before `benches`: its figures carry no bench tag, only the file's date.
  return { date: fresh.date, quick: fresh.quick, machine: fresh.machine, benches: { ...(previous.benches ?? { untagged: previous.date }), ...fresh.benches }, figures };
}

/** Why `previous` and `fresh` must not share one file (another machine, Node or size), or undefined. */
function mergeProblem(previous: Pick<Results, 'machine' | 'quick'>, fresh: Pick<Results, 'machine' | 'quick'>): string | undefined {
  const a = previous.machine;
  const b = fresh.machine;
  if (a.cores === b.cores && a.cpu === b.cpu && a.node === b.node && a.platform === b.platform && previous.quick === fresh.quick) return undefined;
  return `--merge: the existing results are from another machine, Node or size (${a.cores} cores, ${a.cpu}, Node ${a.node}${previous.quick ? ', quick' : ''}); run without --merge`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, out: { type: 'string' }, merge: { type: 'boolean' } } });
  const names = values.only ? values.only.split(',').map((s) => s.trim()) as BenchName[] : BENCHES;
  for (const n of names) if (!BENCHES.includes(n)) throw new Error(`unknown bench "${n}"; known: ${BENCHES.join(', ')}`);
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}` };
  const quick = values.quick ?? false;
  const out = values.out ?? join(projectRoot(), 'bench/results.json');
  // Checked before the (long) run, so that a run that could not be merged is not lost.
  const previous = values.merge ? await readFile(out, 'utf8').then((text) => JSON.parse(text) as Results, () => undefined) : undefined;
  const problem = previous && mergeProblem(previous, { machine, quick });
  if (problem) throw new Error(problem);
  const figures = await runBenches(names, quick, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`\ncharger-controller bench on ${machine.cores} cores (${machine.cpu}), Node ${machine.node}${quick ? ' [quick sizes]' : ''}\n\n${table(figures)}\n`);
  const date = new Date().toISOString();
  const fresh: Results = { date, quick, machine, benches: Object.fromEntries(names.map((n) => [n, date])), figures };
  const results = previous ? mergeResults(previous, fresh) : fresh;
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nwrote ${out}${previous ? ' (merged)' : ''}\n`);
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
