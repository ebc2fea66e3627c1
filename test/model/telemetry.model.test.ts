/**
 * Model test of the telemetry statechart (machines/telemetry.machine.ts): scripted walks through every state and
 * transition of the real machine, its actors replaced by in-memory ones the test settles (promise actors) or fires
 * (the alarm), its `after` delays on a SimulatedClock. The coverage the real actor reached is checked against the
 * machine itself (test/model/coverage.ts: every state and transition), and mutants of its guards and actions must
 * fail the same walk.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock, type AnyStateMachine, type EventObject } from 'xstate';
import { telemetryMachine, type TelemetryEmitted, type TelemetryInput } from '../../machines/telemetry.machine.js';
import { readingTypes, type TelemetryReading } from '../../src/domain/telemetry.js';
import { Coverage } from './coverage.js';

const T0 = 1_700_000_040_000; // on the minute
const input: TelemetryInput = {
  site: 'evse', roles: { derMeters: ['m'] }, types: readingTypes(), nowMs: T0, defaultPostRateS: 60, retryMs: 1000,
  condition: { meterConnected: true, charging: false, powerW: 0, ratedW: 7000, chargeLimitW: null, connect: null, energize: null },
};

interface Call { name: string; input: unknown; resolve: (output: unknown) => void; reject: (error: unknown) => void; done: boolean }

function harness(machine: AnyStateMachine, coverage?: Coverage) {
  const clock = new SimulatedClock();
  const calls: Call[] = [];
  const alarms = new Set<{ input: { atMs: number; event: string }; sendBack: (e: EventObject) => void }>();
  const promise = (name: string) => fromPromise(({ input: i }) => new Promise((resolve, reject) => {
    calls.push({ name, input: i, resolve, reject, done: false });
  }));
  const provided = machine.provide({
    actors: {
      locateMirrors: promise('locateMirrors'), storeReadings: promise('storeReadings'), postBacklog: promise('postBacklog'), putReports: promise('putReports'),
      alarm: fromCallback<EventObject, { atMs: number; event: string }>(({ input: i, sendBack }) => {
        const alarm = { input: i, sendBack };
        alarms.add(alarm);
        return () => alarms.delete(alarm);
      }),
    },
  });
  const emitted: TelemetryEmitted[] = [];
  const actor = createActor(provided, { input, clock, ...(coverage ? { inspect: coverage.inspect } : {}) });
  actor.on('*', (e) => emitted.push(e as TelemetryEmitted));
  actor.start();
  const flush = async () => {
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
  };
  const open = (name: string): Call => {
    const call = calls.find((c) => c.name === name && !c.done);
    if (!call) throw new Error(`no ${name} call is open (calls: ${calls.map((c) => `${c.name}${c.done ? '' : '*'}`).join(', ')})`);
    return call;
  };
  return {
    actor, calls, emitted, clock,
    has: (name: string) => calls.some((c) => c.name === name && !c.done),
    count: (name: string) => calls.filter((c) => c.name === name).length,
    async settle(name: string, output: unknown) {
      const call = open(name);
      call.done = true;
      call.resolve(output);
      await flush();
      return call;
    },
    async fail(name: string, error: unknown) {
      const call = open(name);
      call.done = true;
      call.reject(error);
      await flush();
      return call;
    },
    async fire(event: 'INTERVAL_END' | 'REPORT_DUE', nowMs: number) {
      const alarm = [...alarms].find((a) => a.input.event === event);
      if (!alarm) throw new Error(`no ${event} alarm is armed`);
      const fired = { type: event, nowMs };
      alarm.sendBack(fired);
      await flush();
      return alarm.input.atMs;
    },
    async advance(ms: number) {
      clock.increment(ms);
      await flush();
    },
    state: () => JSON.stringify(actor.getSnapshot().value),
  };
}

/** The walk: every state and transition, with what the chart must have done at each step. */
async function walk(machine: AnyStateMachine, coverage?: Coverage): Promise<void> {
  const h = harness(machine, coverage);
  // reporting: the status is unknown to the server: PUT at once.
  expect(h.has('putReports')).toBe(true);
  await h.settle('putReports', { report: { genConnectStatus: 3, operationalModeStatus: 1, inverterStatus: 3, statWAvailW: 7000 }, pollRateS: 10, nowMs: T0 });
  // mirrors: the first locate fails, is retried after retryMs, then succeeds with a post rate of 60 s.
  expect(h.calls.find((c) => c.name === 'locateMirrors')!.input).toEqual({ site: 'evse', fresh: true });
  await h.fail('locateMirrors', new Error('refused'));
  expect(h.emitted.at(-1)).toMatchObject({ type: 'mirrors.failed' });
  await h.advance(1000);
  await h.settle('locateMirrors', { postRateS: 60, listPollRateS: 30, nowMs: T0 + 1000 });
  expect(h.emitted.some((e) => e.type === 'mirrors.ready')).toBe(true);
  // collecting: readings of the first minute; the alarm is at the minute's end.
  for (let s = 2; s < 60; s += 1) h.actor.send({ type: 'READING', meter: 'm', atMs: T0 + s * 1000, powerW: 1000 + s, voltageV: 400 });
  h.actor.send({ type: 'METER_LOST', meter: 'm', atMs: T0 + 59_500 });
  expect(await h.fire('INTERVAL_END', T0 + 60_000)).toBe(T0 + 60_000);
  const stored = h.calls.find((c) => c.name === 'storeReadings')!.input as { readings: TelemetryReading[]; lastEndS: number };
  expect(stored.lastEndS).toBe(T0 / 1000 + 60);
  expect(stored.readings.find((r) => r.type === 'der.W.avg')).toMatchObject({ startS: T0 / 1000, durationS: 60, value: -1030 });
  // the journal write fails once and is retried.
  await h.fail('storeReadings', new Error('disk full'));
  expect(h.emitted.at(-1)).toMatchObject({ type: 'store.failed' });
  await h.advance(1000);
  await h.settle('storeReadings', { queued: 11, dropped: 0 });
  // sending: posted once stored (the mirrors are known).
  expect(h.has('postBacklog')).toBe(true);
  await h.settle('postBacklog', { posted: 11, queued: 0, nowMs: T0 + 60_050, latencyMs: 50 });
  expect(h.emitted.filter((e) => e.type === 'posted')).toHaveLength(1);
  // A reading of the next interval closes nothing; the next interval closes on a reading after its end (the alarm late).
  h.actor.send({ type: 'READING', meter: 'm', atMs: T0 + 61_000, powerW: 2000, voltageV: 400 });
  h.actor.send({ type: 'READING', meter: 'm', atMs: T0 + 120_100, powerW: 2000, voltageV: 400 });
  await h.settle('storeReadings', { queued: 11, dropped: 2 });
  expect(h.emitted.at(-1)).toMatchObject({ type: 'stored', dropped: 2 });
  // The usage point is gone (404): back off and locate afresh.
  await h.fail('postBacklog', Object.assign(new Error('404'), { status: 404 }));
  expect(h.emitted.at(-1)).toMatchObject({ type: 'post.failed' });
  await h.settle('locateMirrors', { postRateS: 5, listPollRateS: 30, nowMs: T0 + 121_000 });
  expect(h.calls.filter((c) => c.name === 'locateMirrors').at(-1)!.input).toEqual({ site: 'evse', fresh: true });
  // Another failure (server down) backs off; then it posts.
  await h.advance(1000);
  await h.fail('postBacklog', new Error('refused'));
  await h.advance(1000);
  await h.settle('postBacklog', { posted: 11, queued: 0, nowMs: T0 + 123_000, latencyMs: 2900 });
  // The post rate is now 5 s: the open interval ends at the next 5 s boundary.
  expect(await h.fire('INTERVAL_END', T0 + 125_000)).toBe(T0 + 125_000);
  // mirrors: read again at the list's pollRate.
  const locates = h.count('locateMirrors');
  await h.advance(30_000);
  expect(h.count('locateMirrors')).toBe(locates + 1);
  await h.settle('locateMirrors', { postRateS: 5, listPollRateS: 30, nowMs: T0 + 151_000 });
  // reporting: a change of status is PUT at once; the periodic report comes at the DERList's pollRate; a failure is retried.
  h.actor.send({ type: 'CONDITION', condition: { charging: true, powerW: 3000 }, atMs: T0 + 152_000 });
  expect(h.has('putReports')).toBe(true);
  expect((h.calls.filter((c) => c.name === 'putReports').at(-1)!.input as { report: { operationalModeStatus: number } }).report.operationalModeStatus).toBe(2);
  await h.fail('putReports', new Error('503'));
  expect(h.emitted.at(-1)).toMatchObject({ type: 'report.failed' });
  await h.advance(1000);
  await h.settle('putReports', { report: { genConnectStatus: 7, operationalModeStatus: 2, inverterStatus: 3, statWAvailW: 4000 }, pollRateS: 10, nowMs: T0 + 153_000 });
  await h.fire('REPORT_DUE', T0 + 160_000);
  expect(h.has('putReports')).toBe(true);
  await h.settle('putReports', { report: { genConnectStatus: 7, operationalModeStatus: 2, inverterStatus: 3, statWAvailW: 4000 }, pollRateS: 10, nowMs: T0 + 160_000 });
  expect(h.emitted.filter((e) => e.type === 'reported').length).toBeGreaterThanOrEqual(3);
  h.actor.stop();
}

const coverage = new Coverage('telemetry', telemetryMachine);

describe('telemetry statechart, model test', () => {
  it('the walk holds on the real actor', async () => {
    await walk(telemetryMachine, coverage);
  });

  it('the walk covered every state and every transition of the machine', () => {
    expect(coverage.uncoveredStates()).toEqual([]);
    expect(coverage.uncoveredTransitions()).toEqual([]);
  });

  afterAll(() => {
    console.log(coverage.summary());
  });
});

describe('telemetry statechart, model test: mutants are caught', () => {
  const mutants = {
    'T1 sending: the backlog is never posted (guard canSend → false)': telemetryMachine.provide({ guards: { canSend: () => false } }),
    'T2 reporting: a change of status waits for the poll (guard statusStale → false)': telemetryMachine.provide({ guards: { statusStale: () => false } }),
    'T3 collecting: an interval is never closed (action closeInterval emptied)': telemetryMachine.provide({ actions: { closeInterval: () => undefined } }),
    'T4 sending: a vanished usage point is not located again (guard mirrorGone → false)': telemetryMachine.provide({ guards: { mirrorGone: () => false } }),
    'T5 mirrors: a new post rate is not applied (action absorbMirrors emptied)': telemetryMachine.provide({ actions: { absorbMirrors: () => undefined } }),
  };
  for (const [name, mutant] of Object.entries(mutants)) {
    it(name, async () => {
      await expect(walk(mutant)).rejects.toThrow();
    });
  }
});
