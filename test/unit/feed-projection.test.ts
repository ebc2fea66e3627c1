/**
 * The pure projection (src/adapters/feed/projection.ts): one root snapshot → the machine's summary, a public
 * `state` message only when the public status changes, and a `chart` message for every change of the active
 * leaves, with the actor index stripped from XState's event names and the event data sanitized.
 */
import { describe, expect, it } from 'vitest';
import { MAX_EVENT_PAYLOAD_CHARS, normalizeEventType, projectSnapshot, sanitizePayload, type MachineIdentity } from '../../src/adapters/feed/projection.js';
import type { MachineSummary } from '../../src/adapters/feed/feed.messages.js';

const meter: MachineIdentity = { kind: 'meter', machine: 'meter:left', meter: 'left', evseId: 'E1' };
const op = (transaction: string, readings = 'waiting') => [
  'operational.link.ok', `operational.readings.${readings}`, 'operational.warmup.done', 'operational.timeSync.scheduled',
  `operational.transaction.${transaction}`, 'operational.temperature.warning.normal', 'operational.temperature.error.normal',
];

/** Feeds a sequence of snapshots through the projection as the wiring does, collecting the messages. */
function run(who: MachineIdentity, steps: { leaves: string[]; event: Record<string, unknown> & { type: string }; context?: Record<string, unknown> }[]) {
  let summary: MachineSummary | undefined;
  const states: unknown[] = [];
  const charts: unknown[] = [];
  for (const step of steps) {
    const p = projectSnapshot(who, summary, { leaves: step.leaves, event: step.event, context: step.context ?? {} });
    summary = p.summary;
    if (p.state) states.push(p.state);
    if (p.chart) charts.push(p.chart);
  }
  return { summary, states, charts };
}

describe('feed projection', () => {
  it('publishes no state message for reading ticks, but a chart message for each', () => {
    const { states, charts, summary } = run(meter, [
      { leaves: ['connecting.checkingIt'], event: { type: 'xstate.init' } },
      { leaves: op('idle'), event: { type: 'xstate.done.actor.0.meter.connecting.readingOpenTransaction', output: { id: 'tx-0' } } },
      { leaves: op('idle', 'reading'), event: { type: 'TICK' } },
      { leaves: op('idle'), event: { type: 'xstate.done.actor.0.meter.operational.readings.reading', output: { power_W: { total: 0 } } } },
      { leaves: op('idle'), event: { type: 'SOMETHING_WITHOUT_A_LEAF_CHANGE' } },
      { leaves: op('starting.posting'), event: { type: 'START_TRANSACTION', request: { transaction_id: 't1', identification_data: '04A2B3C4' } } },
      { leaves: op('running'), event: { type: 'xstate.done.actor.1.meter.operational.transaction.starting.posting', output: { status: 'OK' } } },
    ]);
    expect(states).toEqual([
      { machine: 'meter:left', meter: 'left', evseId: 'E1', from: null, to: 'connecting', event: 'started' },
      { machine: 'meter:left', meter: 'left', evseId: 'E1', from: 'connecting', to: 'idle', event: 'connected' },
      { machine: 'meter:left', meter: 'left', evseId: 'E1', from: 'idle', to: 'starting', event: 'start.requested' },
      { machine: 'meter:left', meter: 'left', evseId: 'E1', from: 'starting', to: 'running', event: 'transaction.started' },
    ]);
    expect(charts).toHaveLength(6);
    expect(charts[2]).toMatchObject({ from: ['operational.readings.waiting'], to: ['operational.readings.reading'], event: { type: 'TICK', payload: {} } });
    expect(charts[3]).toMatchObject({ event: { type: 'xstate.done.actor.meter.operational.readings.reading', payload: { output: { power_W: { total: 0 } } } } });
    expect(charts[4]).toMatchObject({ event: { type: 'START_TRANSACTION', payload: { request: { transaction_id: 't1', identification_data: '[redacted]' } } } });
    expect(summary).toMatchObject({ machine: 'meter:left', status: 'running', state: op('running') });
    expect(JSON.stringify(states)).not.toMatch(/xstate|actor\.\d/);
  });

  it('keeps the previous status across a new actor of the same machine (a re-registration)', () => {
    const reg: MachineIdentity = { kind: 'registration', machine: 'registration:s1', site: 's1' };
    const first = run(reg, [{ leaves: ['discovering.request'], event: { type: 'xstate.init' } }, { leaves: ['registered'], event: { type: 'x' } }]);
    const again = projectSnapshot(reg, first.summary, { leaves: ['discovering.request'], event: { type: 'xstate.init' }, context: {} });
    expect(again.state).toEqual({ machine: 'registration:s1', site: 's1', from: 'registered', to: 'pending', event: 'registration.started' });
  });

  it('strips the invoked actor index from event names', () => {
    expect(normalizeEventType('xstate.done.actor.0.meter.operational.readings.reading')).toBe('xstate.done.actor.meter.operational.readings.reading');
    expect(normalizeEventType('xstate.error.actor.12.registration.finding.request')).toBe('xstate.error.actor.registration.finding.request');
    expect(normalizeEventType('xstate.done.actor.poll')).toBe('xstate.done.actor.poll');
    expect(normalizeEventType('xstate.after.initRetryDelay.meter.connecting.exhausted')).toBe('xstate.after.initRetryDelay.meter.connecting.exhausted');
  });

  it('redacts secrets, turns errors into data and bounds the size', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { kind: 'transport' });
    expect(sanitizePayload({ type: 'x', error, token: 'abc', keyPem: 'PEM', nested: { password: 'p', pin: '1234', ok: 1 } })).toEqual({
      error: { name: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:1', kind: 'transport' }, token: '[redacted]', keyPem: '[redacted]', nested: { password: '[redacted]', pin: '[redacted]', ok: 1 },
    });
    const big = sanitizePayload({ type: 'x', list: Array.from({ length: 100 }, (_, i) => ({ i, text: 'y'.repeat(300) })) });
    expect(big).toMatchObject({ truncated: true });
    expect(JSON.stringify(big).length).toBeLessThan(MAX_EVENT_PAYLOAD_CHARS);
    expect(sanitizePayload({ type: 'x', fn: () => 1, deep: { a: { b: { c: { d: { e: { f: 1 } } } } } } })).toEqual({ deep: { a: { b: { c: { d: '…' } } } } });
  });
});
