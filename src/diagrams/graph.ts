/**
 * Reads a statechart's structure from XState's state nodes: nested and parallel states, initial and final
 * states, invoked actors, and every transition with its trigger (event, `after` delay by name, `always`, actor
 * done/error) and guard. XState's own `toDirectedGraph` leaves out `always` transitions; this walk keeps them.
 */
import type { AnyStateMachine } from 'xstate';

export interface DiagramState {
  /** Full path with the machine id, e.g. `meter.operational.transaction.running`. */
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  initial: string | undefined;
  invokes: string[];
  children: DiagramState[];
  /** Set by foldDiagram: the number of states hidden inside this (folded) compound state. */
  folded?: number;
}

export interface DiagramTransition {
  source: string;
  target: string;
  /** Human label: `EVENT [guard]`, `after delayName`, `always [guard]`, `done: actor`, `error: actor`. */
  label: string;
}

export interface Diagram {
  name: string;
  root: DiagramState;
  transitions: DiagramTransition[];
}

interface NodeLike {
  id: string;
  key: string;
  type: DiagramState['type'];
  states: Record<string, NodeLike>;
  initial?: { target?: NodeLike[] } | undefined;
  invoke: { src: unknown; id: string }[];
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[] | undefined;
}

interface TransitionLike {
  target?: NodeLike[] | undefined;
  guard?: unknown;
  delay?: unknown;
  eventType?: string;
}

function guardLabel(guard: unknown): string {
  if (guard === undefined) return '';
  if (typeof guard === 'string') return ` [${guard}]`;
  if (typeof guard === 'function') return ` [${guard.name || 'guard'}]`;
  const g = guard as { type?: string; params?: Record<string, unknown> };
  const params = g.params && Object.keys(g.params).length ? `(${Object.values(g.params).map((p) => (Array.isArray(p) ? p.join('|') : String(p))).join(', ')})` : '';
  return ` [${g.type ?? 'guard'}${params}]`;
}

function eventLabel(eventType: string, node: NodeLike, delay: unknown): string {
  if (eventType.startsWith('xstate.after.')) return `after ${typeof delay === 'string' ? delay : `${String(delay)} ms`}`;
  const done = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  if (done) {
    const invoked = node.invoke.find((i) => i.id === done[2]);
    const src = typeof invoked?.src === 'string' ? invoked.src : done[2];
    return `${done[1]}: ${src}`;
  }
  return eventType;
}

export function buildDiagram(name: string, machine: AnyStateMachine): Diagram {
  const transitions: DiagramTransition[] = [];
  const walk = (node: NodeLike): DiagramState => {
    for (const [eventType, list] of node.transitions) {
      for (const t of list) {
        const label = `${eventLabel(eventType, node, t.delay)}${guardLabel(t.guard)}`;
        for (const target of t.target ?? []) transitions.push({ source: node.id, target: target.id, label });
        if (!t.target?.length) transitions.push({ source: node.id, target: node.id, label: `${label} (internal)` });
      }
    }
    for (const t of node.always ?? []) {
      for (const target of t.target ?? []) transitions.push({ source: node.id, target: target.id, label: `always${guardLabel(t.guard)}` });
    }
    const children = Object.values(node.states).map(walk);
    return {
      id: node.id,
      key: node.key,
      type: node.type,
      initial: node.initial?.target?.[0]?.key,
      invokes: node.invoke.map((i) => (typeof i.src === 'string' ? i.src : i.id)),
      children,
    };
  };
  const root = walk(machine.root as unknown as NodeLike);
  return { name, root, transitions };
}

/** Every state of a diagram, depth first. */
export function allStates(state: DiagramState): DiagramState[] {
  return [state, ...state.children.flatMap(allStates)];
}

/**
 * The diagram with the given compound states folded: each drawn as one node (its children hidden), the
 * transitions from or to a hidden state drawn from or to the folded node (those inside it dropped, duplicates
 * merged). The inspector uses it so a large chart can be read region by region; the generated files do not.
 */
export function foldDiagram(diagram: Diagram, fold: ReadonlySet<string>): Diagram {
  if (!fold.size) return diagram;
  const shown = (state: DiagramState): DiagramState => {
    if (fold.has(state.id) && state.children.length) return { ...state, children: [], folded: allStates(state).length - 1 };
    return { ...state, children: state.children.map(shown) };
  };
  const root = shown(diagram.root);
  const visible = new Set(allStates(root).map((s) => s.id));
  const nearest = (id: string): string => {
    let at = id;
    while (!visible.has(at) && at.includes('.')) at = at.slice(0, at.lastIndexOf('.'));
    return at;
  };
  const seen = new Set<string>();
  const transitions: DiagramTransition[] = [];
  for (const t of diagram.transitions) {
    const source = nearest(t.source);
    const target = nearest(t.target);
    const hidden = source !== t.source || target !== t.target;
    if (hidden && source === target) continue;
    const key = `${source}\u0000${target}\u0000${t.label}`;
    if (seen.has(key)) continue;
    seen.add(key);
    transitions.push({ source, target, label: t.label });
  }
  return { name: diagram.name, root, transitions };
}
