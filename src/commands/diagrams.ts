/** `charger-controller diagrams`: writes (or checks) the statechart diagrams in visualizations/. */
import { staleDiagrams, writeDiagrams } from '../diagrams/generate.js';
import { parseOptions } from './args.js';

export const DIAGRAMS_HELP = `Usage: charger-controller diagrams [--out <dir>] [--check]

Generates one diagram per statechart of machines/index.ts: Mermaid stateDiagram-v2 text (<name>.mmd) and an SVG
rendered with Graphviz (wasm, offline) (<name>.svg). With --check, writes nothing and exits 1 when a file is
missing or stale.

Options:
  --out <dir>   output folder (default visualizations)
  --check       only report stale diagrams
  -h, --help    show this help
`;

export async function diagrams(args: string[]): Promise<number> {
  const o = parseOptions(args, { out: { type: 'string' }, check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (o.help) {
    process.stdout.write(DIAGRAMS_HELP);
    return 0;
  }
  const dir = o.out ?? 'visualizations';
  if (o.check) {
    const stale = await staleDiagrams(dir);
    process.stdout.write(stale.length ? `stale diagrams in ${dir}: ${stale.join(', ')}; run "npm run viz"\n` : `diagrams in ${dir} are current\n`);
    return stale.length ? 1 : 0;
  }
  for (const file of await writeDiagrams(dir)) process.stdout.write(`wrote ${file}\n`);
  return 0;
}
