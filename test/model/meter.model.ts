/**
 * Test model of the meter statechart: the production machine itself (`new TestModel(meterMachine)`, stepped
 * purely by xstate/graph, the graph module xstate 5 ships; @xstate/graph is its unmaintained predecessor), with hand-written event generators for what the outside world does: the device
 * answering or failing each pending request, the ticker ticking, commands arriving, and timers expiring. The
 * generators keep the parallel regions from multiplying: a stimulus of one region (a tick, a command, a timer)
 * is offered only while the other regions are at rest, except where the regions really interact (the start flow
 * and time sync, readings and the link, a failing command and the link).
 */
import { TestModel, type TestPath } from 'xstate/graph';
import type { ActorLogic, AnyEventObject, AnyMachineSnapshot } from 'xstate';
import { machines } from '../../machines/index.js';
import type { MeterContext, MeterMachineInput, StatusInfo } from '../../machines/meter/meter.types.js';
import { SYNC_INTERVAL_MS, SYNC_RETRY_MS } from '../../machines/meter/meter.setup.js';
import { ControllerError } from '../../src/domain/errors.js';
import type { LiveMeasure } from '../../src/domain/powermeter.js';
import { baseInput, inMemoryMeter, transportError, txReq } from '../helpers/in-memory-meter.js';
import type { StepView } from './replay.js';

// ---- configurations: every config-dependent guard (itConfigured, itMatches, ntpMode, hasDst) both ways ----

const common: MeterMachineInput = {
  ...baseInput, initRetries: 1, txRetries: 1, readingIntervalMs: 1000, warmupMs: 120_000, initRetryDelayMs: 10_000, txRetryDelayMs: 250,
  temperature: { warningC: 60, errorC: 80, hysteresisK: 3, minTimeMs: 5000 },
};
export const meterConfigs: Record<string, MeterMachineInput> = {
  'system time, IT untouched, DST': { ...common, IT: -1, ntp: [], dst: baseInput.dst },
  'NTP, IT enforced, no DST': { ...common, IT: 3, ntp: [{ ipAddress: '192.0.2.123', port: 123 }], dst: null },
};

export const meterDelay = (c: MeterMachineInput) => (name: string): number | undefined => ({
  initRetryDelay: c.initRetryDelayMs, commandRetryDelay: c.txRetryDelayMs, warmup: c.warmupMs, syncInterval: SYNC_INTERVAL_MS,
  syncRetry: SYNC_RETRY_MS, temperatureMinTime: c.temperature.minTimeMs,
} as Record<string, number>)[name];

// ---- what the device answers: taken from the simulator's device model ----

const device = inMemoryMeter().device;
const live = device.liveMeasure() as unknown as LiveMeasure;
const liveAt = (celsius: number): LiveMeasure => ({ ...live, temperatureH: celsius, temperatureL: celsius - 1 });
const rawStatus = device.statusBody('127.0.0.1') as { meterId: string; publicKeyOcmf: string; version: { applicationFirmwareVersion: string } };
const status = (transactionOpen: boolean): StatusInfo => ({
  meterId: rawStatus.meterId, publicKeyOcmf: rawStatus.publicKeyOcmf, firmware: rawStatus.version.applicationFirmwareVersion, transactionOpen,
});
export const OCMF = 'OCMF|{"FV":"1.0","GI":"LEM DCBM","RD":[{"TM":"2026-01-15T08:00:00,000+0100 S","TX":"E"}]}|{"SD":"3045"}';
export const OCMF_RUNNING = OCMF.replace('"TX":"E"', '"TX":"T"');
export const HOT = 90;
export const NORMAL = 25;

const transport = transportError();
const deviceError = new ControllerError('protocol', 'result 0');
const invalidAnswer = new ControllerError('schema', 'GET /v1/livemeasure answered a body that is not JSON: <html>');
const notFound = new ControllerError('http-status', 'answered 404', { status: 404 });
const notRunning = new ControllerError('http-status', 'answered 409', { status: 409 });
const refused = new ControllerError('http-status', 'answered 403', { status: 403 });

type Outcome = { label: string; output: unknown } | { label: string; error: unknown };

/** Which stimuli a scenario's generator offers (pending requests always end, one way or another). */
export interface MeterScope {
  /** Init timers and commands while connecting. */
  init?: boolean;
  /** Ticks, hot readings, the temperature timers, the link's recovery. */
  monitor?: boolean;
  /** Warm-up and time sync timers. */
  sync?: boolean;
  /** Start / stop commands and their retries (with the few ticks and timers the stop table and deferred sync need). */
  commands?: boolean;
}

/** How a pending request may end, by actor. */
function outcomes(src: string, s: AnyMachineSnapshot, c: MeterContext, scope: MeterScope): Outcome[] {
  const errors = [{ label: 'transport', error: transport }, { label: 'device', error: deviceError }];
  switch (src) {
    case 'readItSetting': return [{ label: 'same IT', output: c.config.IT }, { label: 'other IT', output: c.config.IT + 1 }, ...errors];
    case 'writeItSetting': return [{ label: 'ok', output: undefined }, errors[0]!];
    case 'readStatus': return s.matches('connecting') || confirming(s)
      ? [{ label: 'idle', output: status(false) }, { label: 'transaction open', output: status(true) }, ...errors]
      // The link's refresh: the meter may have opened or closed a transaction while the link was down (told to the transaction region).
      : [{ label: 'unchanged', output: status(c.needToStop) }, ...(scope.monitor ? [{ label: 'changed', output: status(!c.needToStop) }] : []), ...errors];
    // Confirming a start whose answer was lost: the current record is this start's, or another's.
    case 'readLegal': return confirming(s) ? [
      { label: 'this start', output: { transactionId: c.command?.kind === 'start' ? c.command.req.transaction_id : '', startedAtMs: 1_768_464_000_000 } },
      { label: 'another', output: { transactionId: 'TX-OTHER' } }, errors[0]!,
    ] : [
      { label: 'open id', output: { transactionId: c.currentTxId === '' && (s.matches('connecting') || scope.monitor) ? 'TX-OPEN' : c.currentTxId } },
      { label: '404', error: notFound }, errors[0]!,
    ];
    // A hot reading only from rest, so the temperature monitor is explored on its own.
    case 'readLive': return [
      { label: `${NORMAL} °C`, output: liveAt(NORMAL) },
      ...(scope.monitor && regionsAtRest(s, { transaction: 'idle', readings: 'any' }) ? [{ label: `${HOT} °C`, output: liveAt(HOT) }] : []),
      ...(scope.monitor || scope.init ? errors : []),
      ...(scope.monitor ? [{ label: 'invalid', error: invalidAnswer }] : []),
    ];
    // A record that does not end the transaction matters only where the stop must see it ended.
    case 'readOcmf': return [
      { label: 'record', output: OCMF }, ...(c.stop?.mustBeEnded === true && s.matches({ operational: { transaction: { stopping: 'readingOcmf' } } }) ? [{ label: 'record, still running', output: OCMF_RUNNING }] : []), ...errors,
    ];
    // Commands need a sync that succeeds and one that fails; the transport case belongs to the sync scenario.
    case 'writeTimeSetting': return [{ label: 'ok', output: undefined }, ...(scope.sync ? errors : [errors[1]!])];
    // 409 (a transaction runs) on the first and the last attempt, 403 (refused) on the first: branches, not new rows.
    case 'startOnDevice': return [
      { label: 'started', output: { startedAtMs: 1_768_464_000_000 } },
      ...(c.commandAttempts === 0 || c.commandAttempts === c.config.txRetries ? [{ label: '409 running', error: notRunning }] : []),
      ...(c.commandAttempts === 0 ? [{ label: '403 refused', error: refused }] : []),
      ...errors,
    ];
    case 'stopOnDevice': return [
      { label: 'stopped', output: { transactionStatus: 0 } }, ...(s.matches({ operational: { transaction: { starting: 'closingDangling' } } }) ? [{ label: '404', error: notFound }] : []),
      // A refused PUT: first attempts only, before any intermediate record (it adds a branch, not a new row).
      ...(s.matches({ operational: { transaction: { stopping: 'putting' } } }) && c.commandAttempts === 0 && c.cachedOcmf === undefined ? [{ label: '409 not running', error: notRunning }] : []),
      ...errors,
    ];
    default: return [];
  }
}

const confirming = (s: AnyMachineSnapshot): boolean => s.matches({ operational: { transaction: { starting: 'confirming' } } });

type Regions = { link: string; readings: string; warmup: string; timeSync: unknown; transaction: unknown; temperature: { warning: string; error: string } };

/** Whether every region but the named ones is at rest (link ok, no read, no sync, no command, normal temperature). */
function regionsAtRest(s: AnyMachineSnapshot, allow: { link?: 'ok' | 'idle' | 'any'; transaction?: 'idle' | 'home' | 'any'; readings?: 'any'; timeSync?: 'any'; temperature?: 'any' } = {}): boolean {
  const value = s.value as { operational?: Regions };
  const r = value.operational;
  if (!r) return false;
  const link = allow.link ?? 'ok';
  if (link === 'ok' && r.link !== 'ok') return false;
  if (link === 'idle' && r.link !== 'ok' && r.link !== 'fault') return false;
  if (allow.readings !== 'any' && r.readings !== 'waiting') return false;
  if (allow.timeSync !== 'any' && typeof r.timeSync !== 'string') return false;
  const tx = allow.transaction ?? 'home';
  if (tx === 'idle' && r.transaction !== 'idle') return false;
  if (tx === 'home' && r.transaction !== 'idle' && r.transaction !== 'running') return false;
  if (allow.temperature !== 'any' && (r.temperature.warning !== 'normal' || r.temperature.error !== 'normal')) return false;
  return true;
}

const start = (id: string) => ({ type: 'START_TRANSACTION', requestId: `start:${id}`, req: txReq(id) });
const stop = (id: string, recover = false) => ({ type: 'STOP_TRANSACTION', requestId: `stop:${id}${recover ? ':recover' : ''}`, transactionId: id, ...(recover ? { recover: true } : {}) });

interface NodeLike { id: string; invoke: { id: string; src: unknown }[]; after: { eventType: string }[] }

/** The events the outside world may send in a state, within a scope: the event generator of the test model. */
export const meterEvents = (scope: MeterScope) => (s: AnyMachineSnapshot): AnyEventObject[] => {
  const c = s.context as MeterContext;
  const nodes = (s as unknown as { _nodes: NodeLike[] })._nodes;
  const events: AnyEventObject[] = [];
  for (const node of nodes) {
    for (const inv of node.invoke) {
      if (typeof inv.src !== 'string' || inv.src === 'ticker') continue;
      for (const o of outcomes(inv.src, s, c, scope)) {
        events.push('output' in o ? { type: `xstate.done.actor.${inv.id}`, output: o.output, label: o.label } : { type: `xstate.error.actor.${inv.id}`, error: o.error, label: o.label });
      }
    }
  }
  const timers = nodes.flatMap((n) => n.after.map((a) => a.eventType));
  const timer = (delay: string, when: boolean | undefined) => { if (when) events.push(...[...new Set(timers.filter((t) => t.startsWith(`xstate.after.${delay}.`)))].map((type) => ({ type }))); };
  if (s.matches('connecting')) {
    timer('initRetryDelay', scope.init);
    if (scope.init) events.push(start('TX-A'), stop('TX-A'));
    return events;
  }
  const r = (s.value as { operational: Regions }).operational;
  const open = c.currentTxId;
  const running = r.transaction === 'running' && c.command === undefined;
  // The ticker ticks while commands and syncs rest; ticks also bring the link back and cool the meter down.
  // For the stop table, a running transaction also gets one tick to cache its intermediate record.
  if (r.readings === 'waiting' && ((scope.monitor && regionsAtRest(s, { link: 'any', readings: 'any', temperature: 'any' }))
    || (scope.commands && running && r.link === 'ok' && c.cachedOcmf?.transactionId !== open))) events.push({ type: 'TICK' });
  timer('temperatureMinTime', scope.monitor && regionsAtRest(s, { transaction: 'idle', temperature: 'any' }));
  // Warm-up and sync timers: from rest; for commands only while a transaction runs (a sync falls due: deferred).
  const syncTimers = (scope.sync && regionsAtRest(s, { link: 'any' })) || (scope.commands && running && c.needToStop && c.cachedOcmf === undefined && regionsAtRest(s));
  timer('warmup', syncTimers);
  timer('syncRetry', syncTimers);
  timer('syncInterval', syncTimers);
  if (scope.commands) {
    // From rest with the link up (a command that lost the link ends the path): one command per stop-table row.
    if (regionsAtRest(s)) {
      events.push(start('TX-A'), start(''), stop(''), stop('TX-Z'), stop('TX-Z', true));
      if (open !== '') events.push(stop(open));
      if (open !== '' && !c.needToStop) events.push(stop(open, true));
    }
    if (s.matches({ operational: { transaction: { starting: 'syncingTime' } } }) || s.matches({ operational: { transaction: { stopping: 'putting' } } })) {
      events.push(start('TX-B'), stop('TX-B'));
    }
    timer('commandRetryDelay', regionsAtRest(s, { link: 'idle', transaction: 'any' }));
  }
  return events;
};

/** The part of the context that guards read: model and real actor must agree on it after every step. */
export function meterView(s: AnyMachineSnapshot): unknown {
  const c = s.context as MeterContext;
  const cmd = c.command;
  return {
    needToStop: c.needToStop, currentTxId: c.currentTxId, initAttempts: c.initAttempts, commandAttempts: c.commandAttempts,
    command: cmd && (cmd.kind === 'start' ? ['start', cmd.req.transaction_id] : ['stop', cmd.transactionId, cmd.recover === true]),
    stop: c.stop, warmedUp: c.warmedUp, ntpSaved: c.ntpSaved, syncUnsafe: c.syncUnsafe, commFault: c.commFault, initFault: c.initFault, commandSinceRefresh: c.commandSinceRefresh,
    cached: c.cachedOcmf?.transactionId, api: c.api,
  };
}

const key = (s: AnyMachineSnapshot) => JSON.stringify([s.value, meterView(s)]);
const eventKey = (e: AnyEventObject) => `${e.type}${'label' in e ? `(${String(e.label)})` : ''}${'requestId' in e ? `(${String(e.requestId)})` : ''}`;

/**
 * A vertex is a state reached by a transition (state, event, previous state), as `createTestModel` does, so the
 * shortest paths take every edge of the graph, not only reach every state.
 */
export function meterModel(input: MeterMachineInput) {
  return new TestModel(machines.meter as unknown as ActorLogic<AnyMachineSnapshot, AnyEventObject, MeterMachineInput>, {
    input,
    // The abstraction keeps the graph finite; this bounds the traversal should a machine change make it grow.
    limit: 100_000,
    serializeEvent: eventKey as never,
    serializeState: (state, event, prev) => `${key(state)}|${event ? eventKey(event) : ''}|${prev ? key(prev) : ''}`,
  });
}

export type MeterPath = TestPath<AnyMachineSnapshot, AnyEventObject>;

export interface MeterSuite {
  config: string;
  input: MeterMachineInput;
  scenario: string;
  paths: MeterPath[];
}

const operationalWith = (needToStop: boolean, currentTxId: string) => (p: MeterPath) =>
  p.state.matches('operational') && (p.state.context as MeterContext).needToStop === needToStop && (p.state.context as MeterContext).currentTxId === currentTxId;

const shortest = (paths: MeterPath[], pick: (p: MeterPath) => boolean): MeterPath[] => {
  const found = paths.filter(pick).sort((a, b) => a.steps.length - b.steps.length)[0];
  return found ? [found] : [];
};

/**
 * The generated paths, by configuration and scenario: init from the initial state; then monitoring, time sync and
 * commands each from the shortest init paths into operation (nothing open; a transaction found open, with and
 * without its id; an id but nothing open), joined by `getShortestPathsFrom`.
 */
export function meterSuites(): MeterSuite[] {
  const suites: MeterSuite[] = [];
  for (const [config, input] of Object.entries(meterConfigs)) {
    const model = meterModel(input);
    const initOptions = { events: meterEvents({ init: true }), stopWhen: (s: AnyMachineSnapshot) => s.matches('operational') };
    const all = model.getShortestPaths({ ...initOptions, allowDuplicatePaths: true });
    suites.push({ config, input, scenario: 'init', paths: model.getShortestPaths(initOptions) });
    const idle = shortest(all, operationalWith(false, ''));
    const from = (scenario: string, prefixes: MeterPath[], scope: MeterScope) =>
      suites.push({ config, input, scenario, paths: model.getShortestPathsFrom(prefixes, { events: meterEvents(scope) }) });
    if (input.ntp.length === 0) {
      from('monitoring', idle, { monitor: true });
      from('time sync', idle, { sync: true });
      from('commands', idle, { commands: true });
    } else {
      from('time sync', idle, { sync: true });
      const synced = model.getShortestPathsFrom(idle, { events: meterEvents({ sync: true }), allowDuplicatePaths: true });
      from('commands', shortest(synced, (p) => p.state.matches({ operational: { timeSync: 'ntpKept', link: 'ok' } })), { commands: true });
    }
  }
  return suites;
}

// ---- what the real actor must have done at each step, beyond reaching the model's state ----

const where = (callId: string) => callId.replace(/^\d+\.meter\./, '');
const tx = (s: AnyMachineSnapshot | undefined) => (s?.value as { operational?: Regions } | undefined)?.operational?.transaction;
const atRest = (t: unknown) => t === 'idle' || t === 'running';

function expectThat(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

/** Per-path checks of the calls the in-memory meter received and of the events the real actor emitted. */
export function meterChecks(input: MeterMachineInput): (step: StepView) => void {
  let acceptedAt: number | undefined; // calls.length when the running command was accepted
  let stillRunningSeen = false; // a record read since acceptance showed the meter still runs the transaction
  return (step) => {
    const { event, before, expected, emitted, newCalls, calls } = step;
    const ctx = expected.context as MeterContext;
    // 1. What the device was asked, by the state that asked it.
    for (const call of newCalls) {
      const at = where(call.id);
      const i = call.input as Record<string, unknown>;
      const want: Record<string, unknown> | undefined =
        call.name === 'writeItSetting' ? { IT: input.IT }
        : call.name === 'ticker' ? { periodMs: input.readingIntervalMs }
        : at.endsWith('writingUtc') ? { kind: 'utc' }
        : at.endsWith('writingNtp') ? { kind: 'ntp', servers: input.ntp }
        : at.endsWith('writingTz') ? { kind: 'tz', tz: input.timezone }
        : at.endsWith('writingDst') ? { kind: 'dst', dst: input.dst }
        : at.endsWith('closingDangling') || at.endsWith('readingDanglingOcmf') || at.endsWith('cachingOcmf') ? { api: ctx.api, transactionId: ctx.currentTxId }
        : at.endsWith('stopping.putting') || at.endsWith('stopping.readingOcmf') ? { api: ctx.api, transactionId: ctx.stop?.transactionId }
        : call.name === 'readLegal' || call.name === 'readLive' ? { api: ctx.api }
        : undefined;
      if (want) for (const [k, v] of Object.entries(want)) expectThat(JSON.stringify(i[k]) === JSON.stringify(v), `${call.name} from ${at}: ${k} = ${JSON.stringify(i[k])}, expected ${JSON.stringify(v)}`);
      if (call.name === 'startOnDevice') {
        expectThat(ctx.command?.kind === 'start' && i.transactionId === ctx.command.req.transaction_id, `startOnDevice for ${String(i.transactionId)}`);
      }
    }
    // 2. Every command gets exactly one answer: at once when refused, when the transaction region settles otherwise.
    const replies = emitted.filter((e) => e.type === 'transaction.started' || e.type === 'transaction.stopped') as unknown as { type: string; requestId?: string; response: { status: string; signed_meter_value?: { signed_meter_data: string } } }[];
    const isCommand = event.type === 'START_TRANSACTION' || event.type === 'STOP_TRANSACTION';
    const replyType = (kind: string) => (kind === 'START_TRANSACTION' || kind === 'start' ? 'transaction.started' : 'transaction.stopped');
    const dangling = replies.filter((r) => r.requestId === undefined); // the record of a dangling transaction closed by a start
    const answered = replies.filter((r) => r.requestId !== undefined);
    if (isCommand && !(before && atRest(tx(before)))) {
      const [only] = answered;
      expectThat(answered.length === 1 && only?.requestId === (event as { requestId?: string }).requestId && only?.type === replyType(event.type)
        && only?.response.status === 'UNEXPECTED_ERROR', `a refused ${event.type} must be answered at once with an error; emitted ${JSON.stringify(answered)}`);
    } else if (isCommand && atRest(tx(expected))) {
      expectThat(answered.length === 1 && answered[0]?.requestId === (event as { requestId?: string }).requestId, `${event.type} settled at once: expected one answer, emitted ${JSON.stringify(answered)}`);
    } else if (tx(before) !== undefined && !atRest(tx(before)) && atRest(tx(expected))) {
      const cmd = (before?.context as MeterContext | undefined)?.command;
      expectThat(cmd !== undefined && answered.length === 1 && answered[0]?.requestId === cmd.requestId && answered[0].type === replyType(cmd.kind),
        `the command ${cmd?.requestId ?? '?'} ended: expected one answer, emitted ${JSON.stringify(answered)}`);
    } else {
      expectThat(answered.length === 0, `unexpected answer ${JSON.stringify(answered)} on ${event.type}`);
    }
    for (const r of [...answered, ...dangling]) {
      if (r.response.status === 'OK' && r.type === 'transaction.stopped') expectThat(r.response.signed_meter_value?.signed_meter_data === OCMF, 'a stop answers with the OCMF record the meter gave');
    }
    // 3. A recovery reads the record of a transaction the meter no longer has open: no PUT between acceptance and answer.
    if (isCommand && before && atRest(tx(before)) && !atRest(tx(expected))) {
      acceptedAt = calls.length - newCalls.length;
      stillRunningSeen = false;
    }
    if (event.type.startsWith('xstate.done.actor') && (event as { output?: unknown }).output === OCMF_RUNNING) stillRunningSeen = true;
    const cmdBefore = before ? (before.context as MeterContext).command : undefined;
    const recovering = (event.type === 'STOP_TRANSACTION' && (event as { recover?: boolean }).recover === true) || (cmdBefore?.kind === 'stop' && cmdBefore.recover === true);
    // (Unless a record read showed the meter still runs it: then the recovery stops it with a PUT.)
    if (recovering && !stillRunningSeen && acceptedAt !== undefined && expected.matches({ operational: { transaction: { stopping: 'readingOcmf' } } }) && ctx.stop?.transactionId !== '' && before && !(before.context as MeterContext).needToStop) {
      expectThat(!calls.slice(acceptedAt).some((c) => c.name === 'stopOnDevice'), 'a recovering stop must not PUT the transaction again');
    }
    // 4. Faults and identity, on entering and leaving their states.
    const faults = (type: string) => emitted.filter((e) => e.type === type).map((e) => (e as { fault?: string }).fault);
    const entered = (state: Parameters<AnyMachineSnapshot['matches']>[0]) => expected.matches(state) && !before?.matches(state);
    const left = (state: Parameters<AnyMachineSnapshot['matches']>[0]) => !expected.matches(state) && before?.matches(state) === true;
    // InitFailed is raised once when the retries run out, stays raised through the further attempts, and clears on connecting.
    const initFaultBefore = (before?.context as MeterContext | undefined)?.initFault === true;
    if (entered({ connecting: 'exhausted' })) expectThat(initFaultBefore !== faults('fault.raised').includes('InitFailed'), 'exhausted init retries raise InitFailed once');
    if (expected.matches('connecting')) expectThat(!faults('fault.cleared').includes('InitFailed'), 'InitFailed stays raised while the meter does not connect');
    if (entered('operational')) expectThat(faults('fault.cleared').includes('InitFailed') === initFaultBefore, 'connecting clears InitFailed when it was raised');
    // Invalid answers: each is a warning naming the endpoint; the third in a row raises InvalidResponse, a good answer clears it.
    if (event.type.startsWith('xstate.error.actor') && (event as { label?: string }).label === 'invalid') {
      expectThat(emitted.some((e) => e.type === 'warning' && typeof (e as { detail?: { endpoint?: string } }).detail?.endpoint === 'string'), 'an invalid answer is a warning with its endpoint');
    }
    if (entered({ operational: { answers: 'invalid' } })) expectThat(faults('fault.raised').includes('InvalidResponse'), 'three invalid answers raise InvalidResponse');
    if (left({ operational: { answers: 'invalid' } })) expectThat(faults('fault.cleared').includes('InvalidResponse'), 'a good answer clears InvalidResponse');
    if (entered('operational')) expectThat(emitted.some((e) => e.type === 'identity'), 'entering operation announces the identity');
    if (entered({ operational: { link: 'fault' } }) && before?.matches({ operational: { link: 'ok' } })) expectThat(faults('fault.raised').includes('CommunicationFault'), 'losing the link raises CommunicationFault');
    for (const [level, fault] of [['warning', 'TemperatureWarning'], ['error', 'TemperatureError']] as const) {
      if (entered({ operational: { temperature: { [level]: 'raised' } } })) expectThat(faults('fault.raised').includes(fault), `raised ${level} emits ${fault}`);
      if (left({ operational: { temperature: { [level]: 'raised' } } })) expectThat(faults('fault.cleared').includes(fault), `cleared ${level} emits ${fault} cleared`);
    }
  };
}
