/**
 * Machine-test harness: the meter statechart on XState's SimulatedClock, with in-memory actors that call the
 * simulator's device model directly (no sockets), a log of actor calls, and queued failures per actor.
 */
import { createActor, fromPromise, SimulatedClock, type AnyEventObject } from 'xstate';
import { meterMachine } from '../../machines/meter.machine.js';
import type { MeterEmitted, MeterMachineInput, StatusInfo, TimeSetting } from '../../machines/meter/meter.types.js';
import { createTicker } from '../../src/adapters/clock/ticker.js';
import { timeSettingBody } from '../../src/adapters/lem-dcbm/meter.actors.js';
import { ControllerError } from '../../src/domain/errors.js';
import type { ApiVersion } from '../../src/domain/firmware.js';
import type { LiveMeasure, TransactionReq } from '../../src/domain/powermeter.js';
import { SimClock } from '../../src/simulators/lem-dcbm/clock.js';
import { DeviceReject, MeterDevice } from '../../src/simulators/lem-dcbm/device.js';
import { resolveOptions, type MeterSimulatorInput } from '../../src/simulators/lem-dcbm/options.js';

export const T0 = Date.UTC(2026, 0, 15, 8, 0, 0);

export const baseInput: MeterMachineInput = {
  name: 'meter', evseId: 'DE*ABC*E1', apiVersion: 'auto', readingIntervalMs: 1000, warmupMs: 120_000,
  initRetries: 25, initRetryDelayMs: 10_000, txRetries: 3, txRetryDelayMs: 250, timezone: '+01:00',
  dst: { activated: true, offset: 60, start: { order: 'last', day: 'sunday', month: 'march', hour: 'T01:00Z' }, end: { order: 'last', day: 'sunday', month: 'october', hour: 'T01:00Z' } },
  ntp: [], IT: -1, startBody: { tariffId: 0, cableId: 0, UV: '', UD: '', SC: 0 },
  temperature: { warningC: 5000, errorC: 5000, hysteresisK: 3, minTimeMs: 5000 },
};

export const transportError = (what = 'ECONNREFUSED') => new ControllerError('transport', `connect ${what}`);

/** A command's answer as the tests read it. */
export interface Reply {
  requestId?: string;
  final?: boolean;
  response: {
    status: string;
    error?: string;
    signed_meter_value?: { signed_meter_data: string };
    transaction_min_stop_time?: string;
    transaction_max_stop_time?: string;
  };
}

export interface Call {
  at: number;
  name: string;
  input: unknown;
}

function rejectToError(error: unknown): never {
  if (error instanceof DeviceReject) {
    const status = { badRequest: 400, alreadyRunning: 409, preconditionFailed: 403, unknownTransaction: 404, notRunning: 409, earlyStop: 403, notFound: 404, methodNotAllowed: 405 }[error.kind];
    throw new ControllerError('http-status', error.message, { status });
  }
  throw error;
}

class AnswerLost {
  constructor(readonly error: unknown) {}
}

export function inMemoryMeter(input: Partial<MeterMachineInput> = {}, device: MeterSimulatorInput = {}) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const meter = new MeterDevice(resolveOptions({ clock: new SimClock(() => clock.now()), ...device }), 'no certificate in memory');
  const calls: Call[] = [];
  const failures = new Map<string, unknown[]>();

  async function call<T>(name: string, args: unknown, run: () => T): Promise<T> {
    calls.push({ at: clock.now() - T0, name, input: args });
    const queued = failures.get(name);
    if (queued?.length) {
      const failure = queued.shift();
      if (failure instanceof AnswerLost) {
        run(); // the device acts; its answer never arrives
        throw failure.error;
      }
      throw failure;
    }
    try {
      return run();
    } catch (error) {
      return rejectToError(error);
    }
  }
  const settings = (body: Record<string, unknown>): void => {
    const result = meter.writeSettings(body);
    if (result.body.result !== 1) throw new ControllerError('protocol', `result 0: ${result.body.error ?? ''}`);
  };

  const actors = {
    readItSetting: fromPromise<number, void>(() => call('readItSetting', undefined, () => (meter.settingsBody() as { ocmfId: { IT: number } }).ocmfId.IT)),
    writeItSetting: fromPromise<void, { IT: number }>(({ input: i }) => call('writeItSetting', i, () => settings({ ocmfId: { IT: i.IT } }))),
    readStatus: fromPromise<StatusInfo, void>(() => call('readStatus', undefined, () => {
      const s = meter.statusBody('127.0.0.1') as { meterId: string; publicKeyOcmf: string; version: { applicationFirmwareVersion: string }; status: { bits: { transactionIsOnGoing: boolean } } };
      return { meterId: s.meterId, publicKeyOcmf: s.publicKeyOcmf, firmware: s.version.applicationFirmwareVersion, transactionOpen: s.status.bits.transactionIsOnGoing };
    })),
    readLegal: fromPromise<{ transactionId: string; startedAtMs?: number }, { api: ApiVersion }>(({ input: i }) => call('readLegal', i, () => {
      const legal = meter.legal({ kind: 'current' }) as { transactionId: unknown; meterValue?: { timestampStart?: string } };
      return { transactionId: String(legal.transactionId), startedAtMs: Date.parse(legal.meterValue?.timestampStart ?? '') };
    })),
    readLive: fromPromise(({ input: i }: { input: { api: ApiVersion } }) => call('readLive', i, () => meter.liveMeasure() as unknown as LiveMeasure)),
    readOcmf: fromPromise<string, { api: ApiVersion; transactionId: string }>(({ input: i }) => call('readOcmf', i, () => meter.ocmf({ kind: 'id', id: i.transactionId }))),
    writeTimeSetting: fromPromise<void, TimeSetting>(({ input: i }) => call(`write:${i.kind}`, i, () => settings(timeSettingBody(i, clock.now())))),
    startOnDevice: fromPromise<{ startedAtMs: number }, { api: ApiVersion; transactionId: string; body: Record<string, unknown> }>(({ input: i }) => call('startOnDevice', i, () => {
      const answer = meter.start(i.body, i.api);
      if (answer.running !== true) throw new ControllerError('protocol', 'running = false');
      return { startedAtMs: clock.now() };
    })),
    stopOnDevice: fromPromise<{ transactionStatus: number }, { api: ApiVersion; transactionId: string }>(({ input: i }) => call('stopOnDevice', i, () => ({
      transactionStatus: (meter.stop(i.transactionId, { running: false }) as { meterValue: { transactionStatus: number } }).meterValue.transactionStatus,
    }))),
    ticker: createTicker({ now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (h) => clock.clearTimeout(h as number) }),
  };

  const actor = createActor(meterMachine.provide({ actors }), { input: { ...baseInput, ...input }, clock });
  const emitted: MeterEmitted[] = [];
  actor.on('*', (event: AnyEventObject) => emitted.push(event as MeterEmitted));

  /** Lets promise actors settle (their work is synchronous, so a few turns suffice). */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
  };

  /** Advances simulated time timer by timer, settling after each, so chained delays run at their true times. */
  async function advance(ms: number): Promise<void> {
    const target = clock.now() + ms;
    await settle(); // work already started may arm timers that fall in this window
    for (let guard = 0; guard < 1_000_000; guard += 1) {
      let next = Number.POSITIVE_INFINITY;
      for (const t of (clock as unknown as { timeouts: Map<number, { start: number; timeout: number }> }).timeouts.values()) next = Math.min(next, t.start + t.timeout);
      if (next > target) break;
      clock.set(Math.max(next, clock.now()));
      await settle();
    }
    clock.set(target);
    await settle();
  }

  let requests = 0;
  const request = (type: 'start' | 'stop', payload: TransactionReq | string, recover = false): Promise<Reply> => {
    const requestId = `r${(requests += 1)}`;
    const reply = new Promise<Reply>((resolve) => {
      const sub = actor.on(type === 'start' ? 'transaction.started' : 'transaction.stopped', (event) => {
        if ((event as { requestId?: string }).requestId !== requestId) return;
        sub.unsubscribe();
        resolve(event as unknown as Reply);
      });
    });
    if (type === 'start') actor.send({ type: 'START_TRANSACTION', requestId, req: payload as TransactionReq });
    else actor.send({ type: 'STOP_TRANSACTION', requestId, transactionId: payload as string, ...(recover ? { recover: true } : {}) });
    return reply;
  };

  return {
    clock, device: meter, actor, calls, emitted, settle, advance,
    failNext(name: string, error: unknown, times = 1) {
      failures.set(name, [...(failures.get(name) ?? []), ...Array.from({ length: times }, () => error)]);
    },
    /** The next call reaches the device, which acts on it, but its answer is lost with this error. */
    loseNextAnswer(name: string, error: unknown) {
      failures.set(name, [...(failures.get(name) ?? []), new AnswerLost(error)]);
    },
    async start() {
      actor.start();
      await advance(0); // the first reading is due at once
    },
    startTransaction: (req: TransactionReq) => request('start', req),
    stopTransaction: (id: string) => request('stop', id),
    /** The journal's recovery stop (`recover: true`). */
    recoverTransaction: (id: string) => request('stop', id, true),
    value: () => actor.getSnapshot().value,
    names: (since = 0) => calls.filter((c) => c.at >= since).map((c) => c.name),
  };
}

export const txReq = (id = 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', extra: Partial<TransactionReq> = {}): TransactionReq => ({
  evse_id: 'DE*ABC*E1', transaction_id: id, identification_status: 'ASSIGNED', identification_type: 'ISO14443', identification_flags: [], ...extra,
});
