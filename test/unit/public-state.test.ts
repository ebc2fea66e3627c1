/**
 * The feed's public vocabulary (src/adapters/feed/public-state.ts): every state of every machine in
 * machines/index.ts falls under a row of its table (a renamed or added state fails here, not at a client),
 * statuses follow the priority and keep rules, and every status change has a named event.
 */
import { describe, expect, it } from 'vitest';
import { machines, type MachineName } from '../../machines/index.js';
import {
  DER_CLIENT_STATUSES, METER_STATUSES, REGISTRATION_STATUSES, TELEMETRY_STATUSES, TRANSACTIONS_STATUSES, VOCABULARY, kindOf, leafRow, publicEvent, publicStatus, type MachineKind,
} from '../../src/adapters/feed/public-state.js';

interface NodeLike { path: string[]; states: Record<string, NodeLike> }
const leavesOf = (node: NodeLike): string[] => {
  const children = Object.values(node.states);
  return children.length ? children.flatMap(leavesOf) : [node.path.join('.')];
};

describe('public state table', () => {
  it('covers every machine of machines/index.ts', () => {
    expect(Object.keys(machines).filter((name) => !Object.hasOwn(VOCABULARY, name))).toEqual([]);
  });

  for (const machineName of Object.keys(machines) as MachineName[]) {
    const name = machineName as MachineKind;
    if (!Object.hasOwn(VOCABULARY, name)) continue; // reported by the test above
    it(`maps every leaf state of ${name} to a row`, () => {
      const leaves = leavesOf(machines[machineName].root as unknown as NodeLike);
      expect(leaves.length).toBeGreaterThan(3);
      const unmapped = leaves.filter((leaf) => leafRow(name, leaf) === undefined);
      expect(unmapped, `leaves of ${name} with no row in public-state.ts`).toEqual([]);
    });

    it(`has no row of ${name} that matches no state (a stale row after a rename)`, () => {
      const leaves = leavesOf(machines[machineName].root as unknown as NodeLike);
      const used = new Set(leaves.flatMap((leaf) => leafRow(name, leaf)?.pattern ?? []));
      expect(VOCABULARY[name].leaves.map((r) => r.pattern).filter((p) => !used.has(p))).toEqual([]);
    });
  }

  it('names an event for every change between two statuses, and for a first status', () => {
    const all: [MachineKind, readonly string[]][] = [['meter', METER_STATUSES], ['registration', REGISTRATION_STATUSES], ['derClient', DER_CLIENT_STATUSES], ['telemetry', TELEMETRY_STATUSES], ['transactions', TRANSACTIONS_STATUSES]];
    for (const [kind, statuses] of all) {
      for (const to of statuses) {
        expect(publicEvent(kind, undefined, to as never)).toBe('started');
        for (const from of statuses) if (from !== to) expect(publicEvent(kind, from as never, to as never), `${kind} ${from}→${to}`).not.toBe('changed');
      }
    }
  });
});

describe('meter status', () => {
  const op = (transaction: string, extra: string[] = []) => [
    'operational.link.ok', 'operational.readings.waiting', 'operational.warmup.done', 'operational.timeSync.scheduled',
    `operational.transaction.${transaction}`, 'operational.temperature.warning.normal', 'operational.temperature.error.normal', ...extra,
  ];

  it('follows the transaction region, whatever the reading ticker does', () => {
    expect(publicStatus('meter', op('idle'))).toBe('idle');
    expect(publicStatus('meter', op('idle').map((l) => l.replace('readings.waiting', 'readings.reading')), 'idle')).toBe('idle');
    expect(publicStatus('meter', op('starting.posting'))).toBe('starting');
    expect(publicStatus('meter', op('running'))).toBe('running');
    expect(publicStatus('meter', op('stopping.readingOcmf'))).toBe('stopping');
  });

  it('puts a lost link and a temperature error above the transaction', () => {
    expect(publicStatus('meter', op('running').map((l) => l.replace('link.ok', 'link.fault')))).toBe('unreachable');
    expect(publicStatus('meter', op('running').map((l) => l.replace('error.normal', 'error.raised')))).toBe('fault');
    expect(publicStatus('meter', op('idle').map((l) => l.replace('warmup.done', 'warmup.warming')))).toBe('warming-up');
    expect(publicStatus('meter', op('running').map((l) => l.replace('warmup.done', 'warmup.warming')))).toBe('running');
    expect(publicStatus('meter', op('idle').map((l) => l.replace('timeSync.scheduled', 'timeSync.syncing.writingUtc')))).toBe('syncing');
    expect(publicStatus('meter', [...op('idle'), 'operational.answers.twice'])).toBe('idle');
    expect(publicStatus('meter', [...op('running'), 'operational.answers.invalid'])).toBe('fault');
  });

  it('stays unreachable while a meter that exhausted its retries keeps trying', () => {
    expect(publicStatus('meter', ['connecting.readingStatus'])).toBe('connecting');
    expect(publicStatus('meter', ['connecting.exhausted'], 'connecting')).toBe('unreachable');
    expect(publicStatus('meter', ['connecting.checkingIt'], 'unreachable')).toBe('unreachable');
    expect(publicStatus('meter', ['connecting.readingStatus'], 'unreachable')).toBe('unreachable');
    expect(publicStatus('meter', op('idle'), 'unreachable')).toBe('idle');
    expect(publicEvent('meter', 'unreachable', 'idle')).toBe('connected');
    expect(publicEvent('meter', 'connecting', 'unreachable')).toBe('connection.failed');
    expect(publicEvent('meter', 'running', 'unreachable')).toBe('connection.lost');
  });

  it('names the transaction events', () => {
    expect(publicEvent('meter', 'idle', 'starting')).toBe('start.requested');
    expect(publicEvent('meter', 'starting', 'running')).toBe('transaction.started');
    expect(publicEvent('meter', 'starting', 'idle')).toBe('start.failed');
    expect(publicEvent('meter', 'running', 'stopping')).toBe('stop.requested');
    expect(publicEvent('meter', 'stopping', 'idle')).toBe('transaction.stopped');
    expect(publicEvent('meter', 'fault', 'idle')).toBe('fault.cleared');
  });
});

describe('registration and DER client status', () => {
  it('maps registration steps, backoffs and outcomes', () => {
    expect(publicStatus('registration', ['finding.request'])).toBe('pending');
    expect(publicStatus('registration', ['puttingDer.settings.backoff'])).toBe('retrying');
    expect(publicStatus('registration', ['registered'])).toBe('registered');
    expect(publicStatus('registration', ['failed'])).toBe('failed');
    expect(publicEvent('registration', 'retrying', 'pending')).toBe('retry.started');
  });

  it('does not change the DER client status at every poll', () => {
    const leaves = (polling: string) => [`polling.${polling}`, 'scheduling.waiting', 'responding.idle'];
    expect(publicStatus('derClient', leaves('reading'))).toBe('polling');
    expect(publicStatus('derClient', leaves('waiting'), 'polling')).toBe('following');
    expect(publicStatus('derClient', leaves('reading'), 'following')).toBe('following');
    expect(publicStatus('derClient', leaves('unreachable'), 'following')).toBe('unreachable');
    expect(publicStatus('derClient', leaves('reading'), 'unreachable')).toBe('unreachable');
  });

  it('keeps the telemetry status through a mirror re-read and a retried post', () => {
    const leaves = (mirrors: string, sending: string) => [`mirrors.${mirrors}`, 'collecting.open', `sending.${sending}`, 'reporting.waiting'];
    expect(publicStatus('telemetry', leaves('locating', 'idle'))).toBe('locating');
    expect(publicStatus('telemetry', leaves('ready', 'idle'), 'locating')).toBe('reporting');
    expect(publicStatus('telemetry', leaves('locating', 'idle'), 'reporting')).toBe('reporting');
    expect(publicStatus('telemetry', leaves('ready', 'backoff'), 'reporting')).toBe('backlogged');
    expect(publicStatus('telemetry', leaves('ready', 'posting'), 'backlogged')).toBe('backlogged');
    expect(publicStatus('telemetry', leaves('ready', 'idle'), 'backlogged')).toBe('reporting');
    expect(publicEvent('telemetry', 'backlogged', 'reporting')).toBe('backlog.sent');
  });

  it('keeps a meter\'s pending recovery through the passes that run again', () => {
    expect(publicStatus('transactions', ['recovering.loading'])).toBe('recovering');
    expect(publicStatus('transactions', ['idle.retryPending'], 'recovering')).toBe('retry-pending');
    expect(publicStatus('transactions', ['recovering.commanding'], 'retry-pending')).toBe('retry-pending');
    expect(publicStatus('transactions', ['idle.settled'], 'retry-pending')).toBe('settled');
    expect(publicEvent('transactions', 'retry-pending', 'settled')).toBe('recovery.done');
    expect(publicStatus('transactions', ['stopping.filing'], 'settled')).toBe('stopping');
  });

  it('knows the machine kind from the feed name', () => {
    expect(kindOf('meter:left')).toBe('meter');
    expect(kindOf('derClient:site-1')).toBe('derClient');
    expect(kindOf('journal:x')).toBeUndefined();
  });
});
