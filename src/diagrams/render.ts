/**
 * Renders a Diagram as Mermaid `stateDiagram-v2` text and as Graphviz DOT, and the DOT as SVG with @viz-js/viz
 * (Graphviz compiled to wasm: no browser, no network). Every state's SVG element carries the id
 * `state:<path>`, so the inspector can highlight active states.
 */
import { allStates, type Diagram, type DiagramState } from './graph.js';

const mermaidId = (id: string): string => id.replace(/[^A-Za-z0-9]/g, '_');
const quote = (text: string): string => text.replace(/"/g, "'").replace(/[{}]/g, '');

export function toMermaid(diagram: Diagram): string {
  const lines = ['stateDiagram-v2', `  %% ${diagram.name}: generated from machines/ by \`npm run viz\`; do not edit`];
  const emit = (state: DiagramState, indent: string): void => {
    lines.push(`${indent}state "${quote(state.key)}${state.invokes.length ? ` ⟨${state.invokes.join(', ')}⟩` : ''}" as ${mermaidId(state.id)}`);
    if (!state.children.length) return;
    lines.push(`${indent}state ${mermaidId(state.id)} {`);
    if (state.type === 'parallel') {
      state.children.forEach((child, i) => {
        if (i > 0) lines.push(`${indent}  --`);
        emit(child, `${indent}  `);
      });
    } else {
      if (state.initial) lines.push(`${indent}  [*] --> ${mermaidId(`${state.id}.${state.initial}`)}`);
      for (const child of state.children) {
        emit(child, `${indent}  `);
        if (child.type === 'final') lines.push(`${indent}  ${mermaidId(child.id)} --> [*]`);
      }
    }
    lines.push(`${indent}}`);
  };
  lines.push(`  [*] --> ${mermaidId(diagram.root.id)}`);
  emit(diagram.root, '  ');
  for (const t of diagram.transitions) lines.push(`  ${mermaidId(t.source)} --> ${mermaidId(t.target)}: ${quote(t.label).replace(/:/g, '∶')}`);
  return `${lines.join('\n')}\n`;
}

const dotString = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const anchor = (id: string): string => `${id}#anchor`;

export function toDot(diagram: Diagram): string {
  const lines = [
    `digraph ${dotString(diagram.name)} {`,
    '  graph [compound=true, rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.25, ranksep=0.35];',
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10, height=0.3];',
    '  edge [fontname="Helvetica", fontsize=8, color="#555555", arrowsize=0.6];',
  ];
  const compound = new Set(allStates(diagram.root).filter((s) => s.children.length).map((s) => s.id));
  const emit = (state: DiagramState, indent: string): void => {
    if (!state.children.length) {
      const shape = state.type === 'final' ? ', peripheries=2' : state.folded !== undefined ? ', fillcolor="#e8eef7", style="rounded,filled,bold"' : '';
      const name = state.folded !== undefined ? `${state.key} ⊞ ${state.folded}` : state.key;
      const label = state.invokes.length ? `${name}\\n⟨${state.invokes.join(', ')}⟩` : name;
      lines.push(`${indent}${dotString(state.id)} [id=${dotString(`state:${state.id}`)}, label="${label.replace(/"/g, '')}"${shape}];`);
      return;
    }
    const style = state.type === 'parallel' ? 'dashed,rounded' : 'rounded';
    lines.push(`${indent}subgraph ${dotString(`cluster_${state.id}`)} {`);
    lines.push(`${indent}  id=${dotString(`state:${state.id}`)}; label=${dotString(`${state.key}${state.type === 'parallel' ? ' (parallel)' : ''}${state.invokes.length ? ` ⟨${state.invokes.join(', ')}⟩` : ''}`)}; style=${dotString(style)}; color="#888888";`);
    // An invisible anchor lets edges start or end at the cluster; the initial marker points at the initial child.
    lines.push(`${indent}  ${dotString(anchor(state.id))} [shape=point, width=0.08, style=filled, fillcolor="#333333", label=""];`);
    for (const child of state.children) emit(child, `${indent}  `);
    if (state.initial) {
      const target = `${state.id}.${state.initial}`;
      lines.push(`${indent}  ${dotString(anchor(state.id))} -> ${dotString(compound.has(target) ? anchor(target) : target)}${compound.has(target) ? ` [lhead=${dotString(`cluster_${target}`)}]` : ''};`);
    }
    lines.push(`${indent}}`);
  };
  emit(diagram.root, '  ');
  for (const t of diagram.transitions) {
    const from = compound.has(t.source) ? anchor(t.source) : t.source;
    const to = compound.has(t.target) ? anchor(t.target) : t.target;
    const attributes = [`label=${dotString(t.label)}`];
    // Clipping at a cluster only makes sense when the other end lies outside it.
    const inside = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`);
    if (compound.has(t.source) && !inside(t.target, t.source)) attributes.push(`ltail=${dotString(`cluster_${t.source}`)}`);
    if (compound.has(t.target) && !inside(t.source, t.target)) attributes.push(`lhead=${dotString(`cluster_${t.target}`)}`);
    lines.push(`  ${dotString(from)} -> ${dotString(to)} [${attributes.join(', ')}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

type Viz = Awaited<ReturnType<(typeof import('@viz-js/viz'))['instance']>>;
let viz: Viz | undefined;

/** Graphviz (wasm) is loaded on first use: the controller only needs it when someone opens the inspector. */
export async function toSvg(diagram: Diagram): Promise<string> {
  viz ??= await (await import('@viz-js/viz')).instance();
  return viz.renderString(toDot(diagram), { format: 'svg', engine: 'dot' });
}
