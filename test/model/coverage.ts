/**
 * Coverage of a production statechart by the model-based tests. The denominator is the machine itself, read by
 * the same walk as the diagrams (src/diagrams/graph.ts `buildDiagram` / `allStates`); the numerator is what the
 * REAL actor did while the generated paths ran: the states it entered and the transitions XState reports in its
 * `@xstate.microstep` inspection events.
 */
import type { AnyStateMachine, InspectionEvent } from 'xstate';
import { allStates, buildDiagram, type DiagramTransition } from '../../src/diagrams/graph.js';

interface NodeLike {
  id: string;
  states: Record<string, NodeLike>;
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[] | undefined;
}
interface TransitionLike {
  source: NodeLike;
  eventType: string;
  target?: NodeLike[] | undefined;
}

/** A transition definition's place in its machine, stable across `.provide()` copies: source, trigger, index. */
function keyOf(t: TransitionLike): string {
  const always = t.source.always ?? [];
  const list = always.includes(t) ? always : t.source.transitions.get(t.eventType) ?? [];
  return `${t.source.id}|${always.includes(t) ? '(always)' : t.eventType}|${list.indexOf(t)}`;
}

/** Keys of every diagram transition, in `buildDiagram`'s order (checked against it entry by entry). */
function diagramKeys(machine: AnyStateMachine, diagram: DiagramTransition[]): string[] {
  const keys: { key: string; source: string; target: string }[] = [];
  const walk = (node: NodeLike): void => {
    for (const list of node.transitions.values()) {
      for (const t of list) {
        if (t.target?.length) for (const target of t.target) keys.push({ key: keyOf(t), source: node.id, target: target.id });
        else keys.push({ key: keyOf(t), source: node.id, target: node.id });
      }
    }
    for (const t of node.always ?? []) for (const target of t.target ?? []) keys.push({ key: keyOf(t), source: node.id, target: target.id });
    for (const child of Object.values(node.states)) walk(child);
  };
  walk(machine.root as unknown as NodeLike);
  if (keys.length !== diagram.length || keys.some((k, i) => k.source !== diagram[i]?.source || k.target !== diagram[i]?.target)) {
    throw new Error('the transition walk no longer matches src/diagrams/graph.ts buildDiagram; update test/model/coverage.ts');
  }
  return keys.map((k) => `${k.key}->${k.target}`);
}

export class Coverage {
  readonly states: string[];
  readonly transitions: DiagramTransition[];
  readonly #keys: string[];
  readonly #seenStates = new Set<string>();
  readonly #seenTransitions = new Set<string>();

  constructor(readonly name: string, machine: AnyStateMachine) {
    const diagram = buildDiagram(name, machine);
    this.states = allStates(diagram.root).map((s) => s.id);
    this.transitions = diagram.transitions;
    this.#keys = diagramKeys(machine, diagram.transitions);
  }

  /** An `inspect` observer for `createActor` that records what the actor really did. */
  readonly inspect = (event: InspectionEvent): void => {
    if (event.type !== '@xstate.microstep' && event.type !== '@xstate.snapshot') return;
    const snapshot = event.snapshot as { _nodes?: { id: string }[] };
    for (const node of snapshot._nodes ?? []) this.#seenStates.add(node.id);
    if (event.type !== '@xstate.microstep') return;
    for (const t of event._transitions as unknown as TransitionLike[]) {
      const key = keyOf(t);
      for (const target of t.target?.length ? t.target : [t.source]) this.#seenTransitions.add(`${key}->${target.id}`);
    }
  };

  uncoveredStates(): string[] {
    return this.states.filter((s) => !this.#seenStates.has(s));
  }

  uncoveredTransitions(): DiagramTransition[] {
    return this.transitions.filter((_, i) => !this.#seenTransitions.has(this.#keys[i] ?? ''));
  }

  summary(): string {
    const states = this.states.length - this.uncoveredStates().length;
    const transitions = this.transitions.length - this.uncoveredTransitions().length;
    const lines = [
      `[model coverage] ${this.name}: states ${states}/${this.states.length}, transitions ${transitions}/${this.transitions.length}`,
      ...this.uncoveredStates().map((s) => `    uncovered state: ${s}`),
      ...this.uncoveredTransitions().map((t) => `    uncovered transition: ${t.source} --${t.label}--> ${t.target}`),
    ];
    return lines.join('\n');
  }
}
