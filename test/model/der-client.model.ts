/**
 * Test model of the CSIP-AUS DER client statechart (machines/der-client.machine.ts): the production machine itself
 * (`new TestModel`, stepped purely by xstate/graph) with hand-written generators of what the outside world does:
 * the pending poll ends (no programs; a default only; a default and a control active now; that control cancelled;
 * a control of an unsupported mode only, rejected; a transport failure), the pending response post ends (taken;
 * refused with 400, dropped; a transport failure, retried), the alarm rings (at the next evaluation time, or a
 * second later), POLL arrives, and the poll / retry timers expire.
 */
import { TestModel, type TestPath } from 'xstate/graph';
import type { ActorLogic, AnyEventObject, AnyMachineSnapshot } from 'xstate';
import { machines } from '../../machines/index.js';
import type { DerClientContext, DerClientInput, PollOutput } from '../../machines/der-client.machine.js';
import type { GridLimit, PendingResponse, ProgramSnapshot } from '../../src/domain/der-client.js';
import { ControllerError } from '../../src/domain/errors.js';
import type { ControlBaseDoc, DerControlDoc } from '../../src/domain/sep2-resources.js';
import { transportError } from '../helpers/in-memory-meter.js';
import type { StepView } from './replay.js';

export const T0_MS = 1_768_464_000_000;
const T0_S = T0_MS / 1000;
export const REPLY_TO = '/rsp';
export const POLL_EVERY_MS = 60_000;

export const derClientInput: DerClientInput = { site: 'site-1', ratedW: 7_000, retryMs: 30_000, nowMs: T0_MS };

const base = (b: Partial<ControlBaseDoc>): ControlBaseDoc => ({ unsupported: [], ...b });
const control = (mrid: string, b: ControlBaseDoc, over: Partial<DerControlDoc> = {}): DerControlDoc => ({
  href: `/derp/1/derc/${mrid}`, mrid, description: undefined, creationTime: T0_S - 20, currentStatus: 0, statusTime: T0_S - 20,
  potentiallySuperseded: false, start: T0_S - 10, duration: 600, randomizeStart: 0, randomizeDuration: 0, base: b,
  replyTo: REPLY_TO, responseRequired: 3, ...over,
});
const program = (controls: DerControlDoc[]): ProgramSnapshot => ({
  mrid: 'P1', primacy: 1, href: '/derp/1', controls,
  defaultControl: { href: '/derp/1/dderc', mrid: 'D1', base: base({ opModImpLimW: 1_500 }), setGradW: undefined },
});

/**
 * The control that applies now (1000 W import, received and specific responses asked for), the same cancelled by
 * the server, and one of an unsupported mode only (specific responses only: its rejection is the first, and the
 * abstraction, which does not tell queued responses apart, still reaches its post).
 */
export const ACTIVE = control('C1', base({ opModImpLimW: 1_000 }));
export const CANCELLED = { ...ACTIVE, currentStatus: 2, statusTime: T0_S - 5 };
export const REJECTED = control('C2', base({ unsupported: ['opModVoltVar'] }), { responseRequired: 2 });
/** Every control of the fixtures, by mRID: what the responses to it must carry. */
export const CONTROLS: Record<string, DerControlDoc> = { C1: ACTIVE, C2: REJECTED };
export const REJECTED_MRIDS = new Set(['C2']);
/** The statuses a response may carry (received, started, completed, cancelled, superseded, rejected ×2). */
export const ALLOWED_STATUSES = new Set([1, 2, 3, 6, 7, 252, 253]);

type Outcome = { label: string; output: unknown } | { label: string; error: unknown };

const polled = (c: DerClientContext, programs: ProgramSnapshot[]): PollOutput => ({ programs, nowMs: c.nowMs, nextPollAtMs: c.nowMs + POLL_EVERY_MS });

function outcomes(src: string, c: DerClientContext): Outcome[] {
  switch (src) {
    case 'pollServer': return [
      { label: 'no programs', output: polled(c, []) },
      { label: 'default only', output: polled(c, [program([])]) },
      { label: 'active control', output: polled(c, [program([ACTIVE])]) },
      { label: 'cancelled control', output: polled(c, [program([CANCELLED])]) },
      { label: 'unsupported control', output: polled(c, [program([REJECTED])]) },
      { label: 'transport', error: transportError() },
    ];
    case 'postResponse': return [
      { label: 'taken', output: undefined },
      { label: '400', error: new ControllerError('http-status', 'answered 400', { status: 400 }) },
      { label: 'transport', error: transportError() },
    ];
    default: throw new Error(`no outcomes for a call of ${src}`);
  }
}

interface NodeLike { id: string; invoke: { id: string; src: unknown }[]; after: { eventType: string }[] }

export function derClientEvents(s: AnyMachineSnapshot): AnyEventObject[] {
  const c = s.context as DerClientContext;
  const nodes = (s as unknown as { _nodes: NodeLike[] })._nodes;
  const events: AnyEventObject[] = [];
  for (const node of nodes) {
    for (const inv of node.invoke) {
      if (typeof inv.src !== 'string' || inv.src === 'alarm') continue;
      for (const o of outcomes(inv.src, c)) {
        events.push('output' in o ? { type: `xstate.done.actor.${inv.id}`, output: o.output, label: o.label } : { type: `xstate.error.actor.${inv.id}`, error: o.error, label: o.label });
      }
    }
  }
  // The regions are kept from multiplying: the poll timers and POLL come while no response is being posted (the
  // poll timer also while a post waits to be retried: a poll across a failing post), the retry timer while the
  // poll rests; a pending call always ends, one way or another.
  const polling = (s.value as { polling: string }).polling;
  const responding = (s.value as { responding: string }).responding;
  for (const node of nodes) {
    for (const a of node.after) {
      const pollTimer = a.eventType.startsWith('xstate.after.pollDelay.');
      if (pollTimer ? responding !== 'posting' : polling !== 'reading') events.push({ type: a.eventType });
    }
  }
  // The alarm rings while the scheduler waits: at the next evaluation time, or (none set) a second later.
  if (s.matches({ scheduling: 'waiting' })) {
    events.push(c.nextEvaluationAtMs !== undefined && c.nextEvaluationAtMs > c.nowMs
      ? { type: 'NOW', nowMs: c.nextEvaluationAtMs, label: 'next' } : { type: 'NOW', nowMs: c.nowMs + 1_000, label: '+1 s' });
  }
  if ((polling === 'waiting' || polling === 'unreachable') && responding === 'idle') events.push({ type: 'POLL' });
  // A site meter: its first reading (the site imports 3 kW besides a charger at 1 kW), and it going quiet.
  if (s.matches({ scheduling: 'waiting' }) && responding === 'idle' && polling === 'waiting') {
    events.push(c.siteLoad === undefined
      ? { type: 'SITE_LOAD', load: { siteImportW: 4000, chargerW: 1000 }, label: 'reading' }
      : { type: 'SITE_LOAD', load: undefined, label: 'quiet' });
  }
  return events;
}

/** The abstraction (finite): what guards and delays read, and what the charger is told. */
export function derClientView(s: AnyMachineSnapshot): unknown {
  const c = s.context as DerClientContext;
  return {
    programs: c.programs.length, controls: c.programs.reduce((n, p) => n + p.controls.length, 0), outbox: c.outbox.length, known: c.known,
    pollFailures: Math.min(c.pollFailures, 2), responseFailures: Math.min(c.responseFailures, 2),
    limit: c.limit && [c.limit.source, c.limit.chargeLimitW], siteLoad: c.siteLoad !== undefined,
  };
}

const key = (s: AnyMachineSnapshot) => JSON.stringify([s.value, derClientView(s)]);
const eventKey = (e: AnyEventObject) => `${e.type}${'label' in e ? `(${String(e.label)})` : ''}`;

/** A vertex is a state reached by a transition (state, event, previous state), so the shortest paths take every edge. */
export function derClientModel(input: DerClientInput = derClientInput) {
  return new TestModel(machines.derClient as unknown as ActorLogic<AnyMachineSnapshot, AnyEventObject, DerClientInput>, {
    input,
    limit: 100_000,
    events: derClientEvents,
    serializeEvent: eventKey as never,
    serializeState: (state, event, prev) => `${key(state)}|${event ? eventKey(event) : ''}|${prev ? key(prev) : ''}`,
  });
}

export type DerClientPath = TestPath<AnyMachineSnapshot, AnyEventObject>;

export function derClientPaths(input: DerClientInput = derClientInput): DerClientPath[] {
  return derClientModel(input).getShortestPaths();
}

function expectThat(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

const pairOf = (r: PendingResponse) => `${r.subject}/${r.status}`;

/**
 * One replay's delays and checks (make a fresh one per path). The delays are worked out here from what the model
 * knew when the timer was armed (entering the state), not from the machine's delay functions; the checks are
 * independent of the machine's own bookkeeping: a limit only once something was polled (or restored), responses to
 * the control's replyTo with a valid status, each (control, status) posted at most once after it was taken or
 * dropped, one post at a time, and a rejected control never the limit's source.
 */
export function derClientHarness(input: DerClientInput = derClientInput): {
  delay: (name: string, before: AnyMachineSnapshot | undefined) => number | undefined;
  check: (step: StepView) => void;
} {
  let pollArmedMs: number | undefined;
  let retryArmedMs: number | undefined;
  let polledOnce = input.restored !== undefined;
  const final = new Set<string>();
  const failedOnce = new Set<string>();
  const inFlight = new Map<string, PendingResponse>();

  const delay = (name: string): number | undefined => (name === 'pollDelay' ? pollArmedMs : name === 'responseRetry' ? retryArmedMs : undefined);

  const check = ({ event, before, expected, actual, emitted, newCalls }: StepView): void => {
    // The real actor's context: the model's snapshot is the representative of its abstract state, whose clock and
    // counters beyond the caps may differ from this path's.
    const real = actual.context as DerClientContext;
    const polling = (s: AnyMachineSnapshot | undefined) => (s?.value as { polling?: string } | undefined)?.polling;
    const responding = (s: AnyMachineSnapshot | undefined) => (s?.value as { responding?: string } | undefined)?.responding;

    // Timers: the wait is armed on entering waiting / unreachable (from a poll) and retrying (from a post).
    const p = polling(expected);
    if ((p === 'waiting' || p === 'unreachable') && polling(before) === 'reading') {
      pollArmedMs = p === 'unreachable' ? input.retryMs ?? 30_000 : Math.max(0, real.nextPollAtMs - real.nowMs);
      if (p === 'waiting') expectThat(pollArmedMs <= POLL_EVERY_MS, `the next poll is due within ${POLL_EVERY_MS} ms, armed ${pollArmedMs}`);
    }
    if (responding(expected) === 'retrying' && responding(before) === 'posting') {
      const n = real.responseFailures;
      retryArmedMs = Math.min(5_000 * 2 ** Math.min(n - 1, 6), 300_000);
    }

    // Posts: how the previous one ended (by the step's event), then the new ones.
    if (event.type.startsWith('xstate.done.actor.') || event.type.startsWith('xstate.error.actor.')) {
      const id = event.type.replace(/^xstate\.(done|error)\.actor\./, '');
      const sent = inFlight.get(id);
      if (sent) {
        inFlight.delete(id);
        const label = (event as { label?: string }).label;
        if (label === 'taken' || label === '400') final.add(pairOf(sent));
        else failedOnce.add(pairOf(sent));
      } else if (event.type.startsWith('xstate.done.actor.')) {
        polledOnce = true;
      }
    }
    for (const call of newCalls.filter((k) => k.name === 'postResponse')) {
      const r = call.input as PendingResponse;
      const ctl = CONTROLS[r.subject];
      expectThat(ctl !== undefined && r.replyTo === ctl.replyTo, `a response to ${r.subject} went to ${r.replyTo}`);
      expectThat(ALLOWED_STATUSES.has(r.status), `a response to ${r.subject} with status ${r.status}`);
      expectThat(!final.has(pairOf(r)), `${pairOf(r)} posted again after it was taken or dropped`);
      expectThat(inFlight.size === 0, `${pairOf(r)} posted while another post is pending`);
      inFlight.set(call.id, r);
    }
    // A response that failed for a transport reason is tried again before the next one.
    if (failedOnce.size && newCalls.some((k) => k.name === 'postResponse')) {
      const r = newCalls.find((k) => k.name === 'postResponse')!.input as PendingResponse;
      for (const pair of failedOnce) expectThat(pair === pairOf(r) || final.has(pair), `${pair} failed and was not tried again before ${pairOf(r)}`);
      failedOnce.clear();
    }

    // The limit.
    for (const e of emitted.filter((x) => x.type === 'grid.limit')) {
      const limit = (e as unknown as { limit: GridLimit }).limit;
      expectThat(polledOnce, `grid.limit ${JSON.stringify(limit)} announced before anything was known`);
      expectThat(limit.mrid === null || !REJECTED_MRIDS.has(limit.mrid), `the rejected control ${String(limit.mrid)} is the limit's mrid`);
      expectThat(limit.site === input.site, `grid.limit for site ${limit.site}`);
    }
    if (real.limit) expectThat(real.limit.mrid === null || !REJECTED_MRIDS.has(real.limit.mrid), `the rejected control ${String(real.limit.mrid)} applies`);
    // With a site meter the import limit caps the site: the charger is headed for the limit less the rest of the site.
    const l = real.limit;
    if (event.type === 'SITE_LOAD' && l && l.importLimitW !== null && l.connect !== false && l.energize !== false) {
      const load = real.siteLoad;
      const fromImport = load ? l.importLimitW - Math.max(0, load.siteImportW - load.chargerW) : l.importLimitW;
      const target = Math.max(0, Math.min(fromImport, l.loadLimitW ?? Number.POSITIVE_INFINITY));
      expectThat(real.ramp?.to === target, `after ${eventKey(event)} the limit heads for ${real.ramp?.to ?? 'nothing'}, not ${target}`);
    }
    for (const e of emitted.filter((x) => x.type === 'rejected')) {
      const m = (e as unknown as { mrid: string }).mrid;
      expectThat(REJECTED_MRIDS.has(m), `${m} rejected, though it sets a mode the charger implements`);
    }
  };
  return { delay, check };
}
