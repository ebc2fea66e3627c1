/**
 * Runs one generated path against a REAL actor of a statechart (production or mutant): XState's runtime with its
 * own invoke lifecycle, raised events, delayed events on a SimulatedClock, and emitted events. The device / server
 * is in memory: every promise actor records its call (name, input) and stays pending until the path says how it
 * ends (`xstate.done.actor.<id>` with an output, `xstate.error.actor.<id>` with an error). Time passes when the
 * path says a delay expires (`xstate.after.<delay>.<state>`): the harness checks the real actor armed that timer,
 * with the configured delay, and lets exactly that timer fire. After every step the real actor's state (value,
 * the guard-relevant context, its running children) must equal the model's prediction, plus the per-machine
 * checks of calls and emitted events.
 */
import { createActor, fromCallback, fromPromise, SimulatedClock, type AnyActorRef, type AnyEventObject, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import type { TestPath } from 'xstate/graph';
import type { Coverage } from './coverage.js';

export interface Call {
  /** Invocation id (the child actor id, e.g. `0.meter.connecting.readingIt`). */
  id: string;
  name: string;
  input: unknown;
  /** Index of the path step that started it. */
  step: number;
  settled: boolean;
}

export interface StepView {
  index: number;
  event: AnyEventObject;
  /** The model's state before and after the step. */
  before: AnyMachineSnapshot | undefined;
  expected: AnyMachineSnapshot;
  actual: AnyMachineSnapshot;
  /** Events the real actor emitted during this step. */
  emitted: AnyEventObject[];
  /** Every call the in-memory device/server received so far. */
  calls: readonly Call[];
  /** Calls started during this step. */
  newCalls: Call[];
}

export interface ReplayConfig {
  /** The implementation under test; its actors are replaced by the in-memory ones. */
  machine: AnyStateMachine;
  input: unknown;
  promiseActors: readonly string[];
  /** Callback actors, and the events they send to their parent (delivered on the path's word). */
  callbackActors?: Record<string, readonly string[]>;
  /** The delay (ms) the configuration asks for, by delay name, given the model's state before the timer fires. */
  delay: (name: string, before: AnyMachineSnapshot | undefined) => number | undefined;
  /** What of a snapshot must agree between model and real actor (state value is always compared). */
  view: (snapshot: AnyMachineSnapshot) => unknown;
  check?: (step: StepView) => void;
  coverage?: Coverage | undefined;
}

/** Lets a settled promise actor report to its parent (a few microtask turns; no timers). */
async function flush(): Promise<void> {
  for (let i = 0; i < 6; i += 1) await Promise.resolve();
}

function fail(message: string): never {
  throw new Error(message);
}

function equalJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A short, readable name of a path: its events, with the outcome labels of the generators. */
export function describePath(path: TestPath<AnyMachineSnapshot, AnyEventObject>): string {
  return path.steps.slice(1).map(({ event: e }) => {
    const short = e.type.replace(/^xstate\.(done|error)\.actor\.\d+\.[^.]+\./, '$1:').replace(/^xstate\.after\.([^.]+)\..*$/, 'after $1');
    const label = 'label' in e ? `(${String(e.label)})` : 'requestId' in e ? `(${String(e.requestId)})` : '';
    return `${short}${label}`;
  }).join(' → ');
}

/** The in-memory device of the replay running now (replays run one at a time). */
interface Harness {
  call(id: string, name: string, input: unknown, resolve?: (v: unknown) => void, reject?: (e: unknown) => void): void;
  senders: Map<string, (event: AnyEventObject) => void>;
}
let current: Harness | undefined;
const harness = (): Harness => current ?? fail('no replay is running');

/** The implementation with the in-memory actors, built once per implementation (`.provide()` rebuilds the machine). */
const cache = new WeakMap<AnyStateMachine, AnyStateMachine>();
function provided(config: ReplayConfig): AnyStateMachine {
  const hit = cache.get(config.machine);
  if (hit) return hit;
  const actors: Record<string, unknown> = {};
  for (const name of config.promiseActors) {
    actors[name] = fromPromise<unknown, unknown>(({ input, self }) => new Promise((resolve, reject) => harness().call(self.id, name, input, resolve, reject)));
  }
  for (const [name, events] of Object.entries(config.callbackActors ?? {})) {
    actors[name] = fromCallback<AnyEventObject, unknown>(({ sendBack, input, self }) => {
      const h = harness();
      h.call(self.id, name, input);
      for (const type of events) h.senders.set(type, sendBack);
      return () => {
        for (const type of events) if (h.senders.get(type) === sendBack) h.senders.delete(type);
      };
    });
  }
  const machine = config.machine.provide({ actors } as never);
  cache.set(config.machine, machine);
  return machine;
}

export async function replay(path: TestPath<AnyMachineSnapshot, AnyEventObject>, config: ReplayConfig): Promise<void> {
  const clock = new SimulatedClock();
  const calls: Call[] = [];
  const settle = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  const senders = new Map<string, (event: AnyEventObject) => void>();
  let stepIndex = 0;

  const harness: Harness = {
    call(id, name, input, resolve, reject) {
      const call: Call = { id, name, input, step: stepIndex, settled: false };
      calls.push(call);
      if (resolve && reject) {
        settle.set(id, {
          resolve: (v) => { call.settled = true; resolve(v); },
          reject: (e) => { call.settled = true; reject(e); },
        });
      }
    },
    senders,
  };
  current = harness;
  const machine = provided(config);
  const actor = createActor(machine, { input: config.input, clock, ...(config.coverage ? { inspect: config.coverage.inspect } : {}) });
  let emitted: AnyEventObject[] = [];
  actor.on('*', (event) => { emitted.push(event as AnyEventObject); });
  const errors: unknown[] = [];
  actor.subscribe({ error: (error) => errors.push(error) });

  let before: AnyMachineSnapshot | undefined;
  let callsBefore = 0;

  async function exec(event: AnyEventObject): Promise<void> {
    emitted = [];
    callsBefore = calls.length;
    const type = event.type;
    if (type === 'xstate.init') {
      actor.start();
    } else if (type.startsWith('xstate.done.actor.') || type.startsWith('xstate.error.actor.')) {
      const done = type.startsWith('xstate.done.actor.');
      const id = type.slice(done ? 'xstate.done.actor.'.length : 'xstate.error.actor.'.length);
      const pending = settle.get(id) ?? fail(`the real actor has no pending call "${id}" to ${done ? 'answer' : 'fail'}`);
      settle.delete(id);
      if (done) pending.resolve((event as { output?: unknown }).output);
      else pending.reject((event as { error?: unknown }).error);
    } else if (type.startsWith('xstate.after.')) {
      const scheduled = Object.values((actor.system as unknown as { _snapshot: { _scheduledEvents: Record<string, { source: AnyActorRef; id: string; event: AnyEventObject; delay: number }> } })._snapshot._scheduledEvents)
        .find((s) => s.source === actor && s.event.type === type) ?? fail(`the real actor armed no timer for "${type}"`);
      const delayName = type.slice('xstate.after.'.length).split('.')[0] ?? '';
      const want = config.delay(delayName, before) ?? fail(`no configured delay for "${delayName}"`);
      if (scheduled.delay !== want) fail(`timer "${type}" armed for ${scheduled.delay} ms, configured ${want} ms`);
      // Exactly this timer expires: cancel it on the real scheduler and deliver its event, as the clock would.
      actor.system.scheduler.cancel(actor, scheduled.id);
      actor.send(scheduled.event);
    } else if (senders.has(type)) {
      senders.get(type)?.(event);
    } else {
      actor.send(event);
    }
    await flush();
    stepIndex += 1;
  }

  function verify(expected: AnyMachineSnapshot): void {
    const actual = actor.getSnapshot() as AnyMachineSnapshot;
    if (errors.length) fail(`the real actor failed: ${String(errors[0])}`);
    if (!equalJson(actual.value, expected.value)) fail(`state: real ${JSON.stringify(actual.value)}, model ${JSON.stringify(expected.value)}`);
    const [real, model] = [config.view(actual), config.view(expected)];
    if (!equalJson(real, model)) fail(`context: real ${JSON.stringify(real)}, model ${JSON.stringify(model)}`);
    const [kids, modelKids] = [Object.keys(actual.children).sort(), Object.keys(expected.children).sort()];
    if (!equalJson(kids, modelKids)) fail(`running actors: real ${kids.join(', ')}, model ${modelKids.join(', ')}`);
    config.check?.({
      index: stepIndex - 1, event: lastEvent, before, expected, actual, emitted, calls, newCalls: calls.slice(callsBefore),
    });
    before = expected;
  }

  let lastEvent: AnyEventObject = { type: 'xstate.init' };
  const events = new Proxy({}, {
    get: () => async (step: { event: AnyEventObject }) => {
      lastEvent = step.event;
      await exec(step.event);
    },
  });
  try {
    await path.test({ events, states: { '*': (state: AnyMachineSnapshot) => verify(state) } } as never);
  } finally {
    actor.stop();
    current = undefined;
  }
}
