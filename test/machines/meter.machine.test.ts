/**
 * The meter statechart on a SimulatedClock with in-memory actors over the simulator's device model: timers,
 * retry counts and delays, time-sync policy, stop table and temperature monitor (reference §4.3–4.8).
 */
import { describe, expect, it } from 'vitest';
import { inMemoryMeter, transportError, txReq } from '../helpers/in-memory-meter.js';
import { ControllerError } from '../../src/domain/errors.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('init', () => {
  it('reads status, then the open transaction, then starts reading (reference call order)', async () => {
    const m = inMemoryMeter();
    await m.start();
    expect(m.names()).toEqual(['readStatus', 'readLegal', 'readLive']);
    expect(m.emitted.find((e) => e.type === 'identity')).toMatchObject({ meterId: '1211751603', api: 'v2' });
    expect(m.emitted.find((e) => e.type === 'reading')).toMatchObject({ reading: { meter_id: '1211751603', energy_Wh_import: { total: 188977 } } });
  });

  it('retries 1 + N times at the configured delay, raises the faults, and keeps trying until the meter answers', async () => {
    const m = inMemoryMeter({ initRetries: 2, initRetryDelayMs: 10_000 });
    m.failNext('readStatus', transportError(), 4);
    await m.start();
    await m.advance(25_000);
    expect(m.calls.filter((c) => c.name === 'readStatus').map((c) => c.at)).toEqual([0, 10_000, 20_000]);
    expect(m.emitted.filter((e) => e.type === 'fault.raised').map((e) => (e as { fault: string }).fault)).toEqual(['CommunicationFault', 'InitFailed']);
    expect(m.value()).toEqual({ connecting: 'exhausted' });
    await m.advance(10_000); // 4th attempt fails too, a new round begins
    await m.advance(10_000); // 5th attempt succeeds
    expect(m.calls.filter((c) => c.name === 'readStatus').map((c) => c.at)).toEqual([0, 10_000, 20_000, 30_000, 40_000]);
    expect(m.emitted.filter((e) => e.type === 'fault.cleared').map((e) => (e as { fault: string }).fault)).toEqual(expect.arrayContaining(['InitFailed', 'CommunicationFault']));
    expect(m.value()).toMatchObject({ operational: { link: 'ok' } });
  });

  it('answers commands with "Powermeter is not initialized" while connecting', async () => {
    const m = inMemoryMeter();
    m.failNext('readStatus', transportError(), 1);
    await m.start();
    const reply = (await m.startTransaction(txReq()));
    expect(reply.response).toEqual({ status: 'UNEXPECTED_ERROR', error: 'Failed to start transaction f81d4fae-7dec-11d0-a765-00a0c91e6bf6: Powermeter is not initialized' });
  });

  it('writes IT only when it differs, and a failing IT read blocks init', async () => {
    const same = inMemoryMeter({ IT: 0 });
    await same.start();
    expect(same.names()).toEqual(['readItSetting', 'readStatus', 'readLegal', 'readLive']);
    const differs = inMemoryMeter({ IT: 5 });
    await differs.start();
    expect(differs.names().slice(0, 3)).toEqual(['readItSetting', 'writeItSetting', 'readStatus']);
    expect((differs.device.settingsBody() as { ocmfId: { IT: number } }).ocmfId.IT).toBe(5);
    const failing = inMemoryMeter({ IT: 5, initRetries: 1 });
    failing.failNext('readItSetting', new ControllerError('schema', 'not JSON'), 5);
    await failing.start();
    await failing.advance(10_000);
    expect(failing.names()).toEqual(['readItSetting', 'readItSetting']);
    expect(failing.value()).toEqual({ connecting: 'exhausted' });
  });
});

describe('time sync', () => {
  it('waits out the 2-minute warm-up, writes utc → tz → dst, then re-syncs every 24 h', async () => {
    const m = inMemoryMeter({ readingIntervalMs: 10 * MIN });
    await m.start();
    await m.advance(2 * MIN - 1);
    expect(m.names().filter((n) => n.startsWith('write:'))).toEqual([]);
    await m.advance(1);
    expect(m.calls.filter((c) => c.name.startsWith('write:')).map((c) => [c.name, c.at])).toEqual([['write:utc', 2 * MIN], ['write:tz', 2 * MIN], ['write:dst', 2 * MIN]]);
    await m.advance(24 * HOUR);
    expect(m.calls.filter((c) => c.name === 'write:utc').map((c) => c.at)).toEqual([2 * MIN, 2 * MIN + 24 * HOUR]);
    expect((m.device.settingsBody() as { time: { tz: string } }).time.tz).toBe('+01:00');
  });

  it('retries 1 minute after a refused write, skipping the later writes of that sync', async () => {
    const m = inMemoryMeter({ readingIntervalMs: 10 * MIN });
    m.failNext('write:tz', new ControllerError('protocol', 'result 0'));
    await m.start();
    await m.advance(2 * MIN);
    expect(m.names().filter((n) => n.startsWith('write:'))).toEqual(['write:utc', 'write:tz']);
    await m.advance(MIN);
    expect(m.calls.filter((c) => c.name.startsWith('write:')).map((c) => `${c.name}@${c.at / MIN}`)).toEqual(['write:utc@2', 'write:tz@2', 'write:utc@3', 'write:tz@3', 'write:dst@3']);
    await m.advance(23 * HOUR);
    expect(m.names().filter((n) => n === 'write:utc')).toHaveLength(2); // next one at 24 h after the good sync
  });

  it('omits the DST write when no rule is configured (the reference sends invalid JSON)', async () => {
    const m = inMemoryMeter({ dst: null, readingIntervalMs: 10 * MIN });
    await m.start();
    await m.advance(2 * MIN);
    expect(m.names().filter((n) => n.startsWith('write:'))).toEqual(['write:utc', 'write:tz']);
  });

  it('in NTP mode writes the NTP configuration once it can be kept, then nothing more', async () => {
    const m = inMemoryMeter({ ntp: [{ ipAddress: 'ntp1.example', port: 123 }, { ipAddress: '', port: 123 }], readingIntervalMs: 10 * MIN });
    await m.start();
    await m.advance(2 * MIN);
    expect(m.names().filter((n) => n.startsWith('write:'))).toEqual(['write:ntp', 'write:tz', 'write:dst']);
    await m.advance(48 * HOUR);
    expect(m.names().filter((n) => n.startsWith('write:'))).toHaveLength(3);
    expect(m.value()).toMatchObject({ operational: { timeSync: 'ntpKept' } });
    expect((m.device.settingsBody() as { ntp: unknown }).ntp).toMatchObject({ ntpActivated: true, servers: [{ ipAddress: 'ntp1.example', port: 123 }, { ipAddress: '', port: 123 }] });
  });

  it('syncs before each start; within the warm-up it warns and syncs again a minute later', async () => {
    const m = inMemoryMeter({ readingIntervalMs: 10 * MIN });
    await m.start();
    await m.advance(30_000);
    const reply = (await m.startTransaction(txReq()));
    expect(reply.response.status).toBe('OK');
    expect(m.names().slice(-4)).toEqual(['write:utc', 'write:tz', 'write:dst', 'startOnDevice']);
    expect(m.emitted.some((e) => e.type === 'warning' && e.message.includes('warm-up'))).toBe(true);
  });

  it('never syncs during a transaction: a due sync waits for the stop', async () => {
    const m = inMemoryMeter({ readingIntervalMs: 10 * MIN });
    await m.start();
    await m.advance(3 * MIN);
    await m.startTransaction(txReq());
    const writesAtStart = m.names().filter((n) => n === 'write:utc').length;
    await m.advance(25 * HOUR);
    expect(m.names().filter((n) => n === 'write:utc')).toHaveLength(writesAtStart);
    expect(m.value()).toMatchObject({ operational: { timeSync: 'deferred', transaction: 'running' } });
    const stopped = m.stopTransaction(txReq().transaction_id);
    await m.advance(0);
    expect(((await stopped)).response.status).toBe('OK');
    expect(m.names().slice(-3)).toEqual(['write:utc', 'write:tz', 'write:dst']);
  });
});

describe('the 48 h bounds', () => {
  it('a transaction held past 48 h gets no sync, and its record shows the lost time validity', async () => {
    const m = inMemoryMeter({ readingIntervalMs: 30 * MIN });
    await m.start();
    await m.advance(3 * MIN);
    const reply = await m.startTransaction(txReq('long'));
    const max = Date.parse(reply.response.transaction_max_stop_time!);
    await m.advance(max - m.clock.now() + 2 * MIN); // past the bound: the meter's time sync expired during it
    expect(m.device.statusFlags().timeSyncStatusIsOk).toBe(false);
    expect(m.names(3 * MIN + 1).filter((n) => n.startsWith('write:'))).toEqual([]);
    const stop = m.stopTransaction('long');
    await m.advance(0);
    const answer = await stop;
    expect(answer.response.status).toBe('OK');
    expect(answer.response.signed_meter_value?.signed_meter_data).toContain('"EF":"t"');
    expect(m.names().slice(-5)).toEqual(['stopOnDevice', 'readOcmf', 'write:utc', 'write:tz', 'write:dst']); // synced once it ended
    expect(m.device.statusFlags().timeSyncStatusIsOk).toBe(true);
  });
});

describe('start', () => {
  it('answers OK with stop-time bounds of +2 min and +48 h − 1 min', async () => {
    const m = inMemoryMeter();
    await m.start();
    await m.advance(3 * MIN);
    const startedAt = m.clock.now();
    const reply = (await m.startTransaction(txReq('tx-1', { identification_data: '04A2B3C4' })));
    expect(reply.response).toEqual({
      status: 'OK',
      transaction_min_stop_time: new Date(startedAt + 2 * MIN).toISOString(),
      transaction_max_stop_time: new Date(startedAt + 48 * HOUR - MIN).toISOString(),
    });
    expect(Date.parse(reply.response.transaction_max_stop_time!) - Date.parse(reply.response.transaction_min_stop_time!)).toBe(2877 * MIN);
    expect(m.calls.find((c) => c.name === 'startOnDevice')?.input).toMatchObject({ body: { evseId: 'DE*ABC*E1', transactionId: 'tx-1', clientId: '04A2B3C4,tx-1', tariffId: 0, TT: '', UV: '', UD: '', cableId: 0, userData: '', SC: 0 } });
    expect(m.value()).toMatchObject({ operational: { transaction: 'running' } });
  });

  it('makes 1 + N attempts of sync + POST with the retry delay, then answers UNEXPECTED_ERROR', async () => {
    const m = inMemoryMeter({ txRetries: 1, txRetryDelayMs: 250, readingIntervalMs: 10 * MIN });
    await m.start();
    await m.advance(3 * MIN);
    m.device.setConditions({ linkOk: false });
    const reply = m.startTransaction(txReq('tx-1'));
    await m.advance(1000);
    const answer = (await reply);
    expect(answer.response.status).toBe('UNEXPECTED_ERROR');
    expect(answer.response.error).toMatch(/^Failed to start transaction tx-1: .*link is down/);
    const attempts = m.calls.filter((c) => c.name === 'startOnDevice');
    expect(attempts).toHaveLength(2);
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBe(250);
    expect(m.names(3 * MIN).filter((n) => n !== 'readLive')).toEqual(['write:utc', 'write:tz', 'write:dst', 'startOnDevice', 'write:utc', 'write:tz', 'write:dst', 'startOnDevice']);
    expect(m.value()).toMatchObject({ operational: { transaction: 'idle' } });
  });

  it('reports a transport failure as a connection failure and raises the communication fault', async () => {
    const m = inMemoryMeter({ txRetries: 0, readingIntervalMs: 10 * MIN });
    await m.start();
    await m.advance(3 * MIN);
    m.failNext('startOnDevice', transportError('ETIMEDOUT'));
    const answer = (await m.startTransaction(txReq('tx-1')));
    expect(answer.response.error).toBe('Failed to start transaction tx-1 - connection to device failed: connect ETIMEDOUT');
    expect(m.emitted.filter((e) => e.type === 'fault.raised').map((e) => (e as { fault: string }).fault)).toEqual(['CommunicationFault']);
    await m.advance(10 * MIN); // the next good reading clears it, after re-reading status and legal
    expect(m.names().slice(-3)).toEqual(['readLive', 'readStatus', 'readLegal']);
    expect(m.emitted.filter((e) => e.type === 'fault.cleared').map((e) => (e as { fault: string }).fault)).toEqual(['CommunicationFault']);
  });

  it('keeps the whole transaction id in clientId, shortening the identification instead', async () => {
    const m = inMemoryMeter();
    await m.start();
    const uuid = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
    await m.startTransaction(txReq(uuid, { identification_data: 'DEADBEEF' }));
    expect(m.calls.find((c) => c.name === 'startOnDevice')?.input).toMatchObject({ body: { clientId: `,${uuid}` } });
    expect(m.emitted.some((e) => e.type === 'warning' && e.message.includes('shortened'))).toBe(true);
  });

  it('rejects an over-long EVSE id before any request', async () => {
    const m = inMemoryMeter();
    await m.start();
    const answer = (await m.startTransaction(txReq('tx', { evse_id: 'E'.repeat(38) })));
    expect(answer.response).toEqual({ status: 'UNEXPECTED_ERROR', error: 'Failed to start transaction tx: evse_id exceeds 37 bytes' });
    expect(m.names()).not.toContain('startOnDevice');
  });
});

describe('stop (reference §4.7 table)', () => {
  async function running(options: Parameters<typeof inMemoryMeter>[0] = {}) {
    const m = inMemoryMeter({ readingIntervalMs: 10 * MIN, ...options });
    await m.start();
    await m.advance(3 * MIN);
    await m.startTransaction(txReq('tx-1'));
    return m;
  }

  it('N && id == current: PUT then OCMF; the meter is idle again', async () => {
    const m = await running();
    const answer = (await m.stopTransaction('tx-1'));
    expect(answer.response.status).toBe('OK');
    expect(answer.response.signed_meter_value?.signed_meter_data).toMatch(/^OCMF\|.*"TX":"E"/);
    expect(m.names().slice(-2)).toEqual(['stopOnDevice', 'readOcmf']);
    expect(m.value()).toMatchObject({ operational: { transaction: 'idle' } });
  });

  it('retries only the OCMF read after a successful PUT', async () => {
    const m = await running({ txRetries: 3 });
    m.failNext('readOcmf', transportError('ECONNRESET'));
    const reply = m.stopTransaction('tx-1');
    await m.advance(1000);
    expect(((await reply)).response.status).toBe('OK');
    expect(m.names().filter((n) => n === 'stopOnDevice')).toHaveLength(1);
    expect(m.names().slice(-3)).toEqual(['stopOnDevice', 'readOcmf', 'readOcmf']);
  });

  it('!N && id == "": "No dangling transaction open"', async () => {
    const m = inMemoryMeter();
    await m.start();
    expect(((await m.stopTransaction(''))).response).toEqual({ status: 'UNEXPECTED_ERROR', error: 'No dangling transaction open' });
  });

  it('N && id == "": closes the dangling transaction found at start-up', async () => {
    const m = inMemoryMeter({ readingIntervalMs: 10 * MIN }, { closeTransactionOnPowerLoss: false });
    m.device.start({ evseId: 'E1', transactionId: 'left-open' }, 'v1');
    await m.start();
    expect(m.value()).toMatchObject({ operational: { transaction: 'running' } });
    const answer = (await m.stopTransaction(''));
    expect(answer.response.status).toBe('OK');
    expect(m.calls.find((c) => c.name === 'stopOnDevice')?.input).toMatchObject({ transactionId: 'left-open' });
    expect(m.device.store.running()).toBeUndefined();
  });

  it('!N && id == current: the meter closed it already (power loss): no PUT, only the OCMF', async () => {
    const m = await running();
    m.device.powerCycle();
    m.failNext('readLive', transportError());
    await m.advance(10 * MIN); // reading fails: communication fault
    await m.advance(10 * MIN); // recovery re-reads status (no transaction) and legal, and tells the transaction region
    expect(m.value()).toMatchObject({ operational: { link: 'ok', transaction: 'idle' } });
    const answer = (await m.stopTransaction('tx-1'));
    expect(answer.response.status).toBe('OK');
    expect(m.names().filter((n) => n === 'stopOnDevice')).toHaveLength(0);
  });

  it('a start whose answer was lost after the meter started it: the retry confirms it from status and record, one transaction', async () => {
    const m = inMemoryMeter({ readingIntervalMs: 10 * MIN });
    await m.start();
    await m.advance(3 * MIN);
    m.loseNextAnswer('startOnDevice', transportError('ECONNRESET'));
    const reply = m.startTransaction(txReq('tx-lost'));
    await m.advance(1000);
    const answer = await reply;
    expect(answer.response.status).toBe('OK');
    expect(answer.response.transaction_min_stop_time).toEqual(expect.any(String));
    // One POST: the retry asks the meter first (status, then the current record) instead of posting again.
    expect(m.names().filter((n) => n === 'startOnDevice')).toHaveLength(1);
    expect(m.names().slice(-2)).toEqual(['readStatus', 'readLegal']);
    expect(m.device.store.running()?.transactionId).toBe('tx-lost');
    expect(m.value()).toMatchObject({ operational: { transaction: 'running' } });
    expect((await m.stopTransaction('tx-lost')).response.status).toBe('OK');
  });

  it('a start while a transaction unknown to the chart runs on the meter fails and leaves that one alone', async () => {
    const m = inMemoryMeter({ readingIntervalMs: 10 * MIN, txRetries: 1 });
    await m.start();
    await m.advance(3 * MIN);
    m.device.start({ evseId: 'x', transactionId: 'someone-else', clientId: ',someone-else', tariffId: 0, cableId: 0, userData: '', TT: '', UV: '', UD: '', SC: 0 }, 'v2');
    const reply = m.startTransaction(txReq('tx-mine'));
    await m.advance(1000);
    const answer = await reply;
    expect(answer.response.status).toBe('UNEXPECTED_ERROR');
    expect(m.names().filter((n) => n === 'startOnDevice')).toHaveLength(0); // the time sync before the POST is refused already
    expect(m.device.store.running()?.transactionId).toBe('someone-else');
  });

  it('the meter closed it at a power loss the chart did not see: the refused PUT is followed by the record, which ends it', async () => {
    const m = await running();
    m.device.powerCycle(); // no request failed, so the chart still has it open (N && id == current)
    const answer = await m.stopTransaction('tx-1');
    expect(answer).toMatchObject({ final: true, response: { status: 'OK' } });
    expect(answer.response.signed_meter_value?.signed_meter_data).toContain('"TX":"E"');
    expect(m.names().filter((n) => n === 'stopOnDevice')).toHaveLength(1);
    expect(m.value()).toMatchObject({ operational: { transaction: 'idle' } });
  });

  it('a PUT the meter refuses while it still runs the transaction is no success: the intermediate record is not taken as final', async () => {
    const m = inMemoryMeter({ readingIntervalMs: 10 * MIN, txRetries: 1 }, { earlyStop: 'reject', minTransactionMs: 2 * MIN });
    await m.start();
    await m.advance(3 * MIN);
    await m.startTransaction(txReq('tx-1'));
    const reply = m.stopTransaction('tx-1');
    await m.advance(1000);
    const answer = await reply;
    expect(answer.response).toMatchObject({ status: 'UNEXPECTED_ERROR', error: expect.stringContaining('does not end the transaction') });
    expect(m.device.store.running()?.transactionId).toBe('tx-1');
  });

  it('a recovery of a stop whose PUT never reached the meter finds the transaction still running and PUTs it', async () => {
    const m = await running({ txRetries: 1 });
    m.failNext('stopOnDevice', transportError(), 2);
    const failed = m.stopTransaction('tx-1');
    await m.advance(1000);
    expect((await failed).response.status).toBe('UNEXPECTED_ERROR');
    expect(m.device.store.running()?.transactionId).toBe('tx-1');
    const recovered = m.recoverTransaction('tx-1');
    await m.advance(1000);
    const answer = await recovered;
    expect(answer).toMatchObject({ final: true, response: { status: 'OK' } });
    expect(answer.response.signed_meter_value?.signed_meter_data).toContain('"TX":"E"');
    expect(m.names().filter((n) => n === 'stopOnDevice')).toHaveLength(3); // two failed, then the recovery's PUT
    expect(m.device.store.running()).toBeUndefined();
  });

  it('a link refresh during a stop that reads the transaction as still open does not bring it back after the stop', async () => {
    const m = inMemoryMeter({ readingIntervalMs: 100, txRetryDelayMs: 250 });
    await m.start();
    await m.advance(3 * MIN);
    await m.startTransaction(txReq('tx-1'));
    m.failNext('stopOnDevice', transportError()); // the PUT never lands: the link drops, its refresh sees tx-1 open
    const reply = m.stopTransaction('tx-1');
    await m.advance(2000);
    expect((await reply).response.status).toBe('OK');
    expect(m.names().filter((n) => n === 'readStatus').length).toBeGreaterThan(1); // the refresh happened
    expect(m.value()).toMatchObject({ operational: { transaction: 'idle' } });
    expect(m.device.store.running()).toBeUndefined();
  });

  it('another id while running: PUT and OCMF for that id, the running transaction stays', async () => {
    const m = await running();
    const reply = m.stopTransaction('unknown-id');
    await m.advance(1000);
    const answer = (await reply);
    expect(answer.response.status).toBe('UNEXPECTED_ERROR');
    expect(answer.response.error).toMatch(/^Failed to stop transaction unknown-id: PUT|no transaction matches/);
    expect(m.calls.filter((c) => c.name === 'stopOnDevice').map((c) => (c.input as { transactionId: string }).transactionId)).toEqual(['unknown-id', 'unknown-id', 'unknown-id', 'unknown-id']);
    expect(m.value()).toMatchObject({ operational: { transaction: 'running' } });
  });

  it('falls back to the cached intermediate OCMF on a transport failure, marked as not final', async () => {
    const m = await running({ txRetries: 1 });
    await m.advance(10 * MIN); // a reading caches the OCMF
    m.failNext('stopOnDevice', transportError(), 2);
    const reply = m.stopTransaction('tx-1');
    await m.advance(1000);
    const answer = (await reply);
    expect(answer.response.status).toBe('OK');
    expect(answer.final).toBe(false);
    expect(answer.response.error).toContain('intermediate');
    expect(answer.response.signed_meter_value?.signed_meter_data).toContain('"TX":"C"');
  });

  it('a start while one runs closes the open one first and keeps its OCMF', async () => {
    const m = await running();
    const answer = (await m.startTransaction(txReq('tx-2')));
    expect(answer.response.status).toBe('OK');
    const closed = m.emitted.find((e) => e.type === 'transaction.stopped' && e.transactionId === 'tx-1');
    expect(closed).toMatchObject({ requestId: undefined, final: true, response: { status: 'OK' } });
    expect(m.names().slice(-6)).toEqual(['stopOnDevice', 'readOcmf', 'write:utc', 'write:tz', 'write:dst', 'startOnDevice']);
  });
});

describe('temperature monitor', () => {
  it('raises after the minimum time at or above the level, and clears below level − hysteresis', async () => {
    const m = inMemoryMeter({ temperature: { warningC: 40, errorC: 50, hysteresisK: 3, minTimeMs: 5000 } });
    await m.start();
    const faults = () => m.emitted.filter((e) => e.type === 'fault.raised' || e.type === 'fault.cleared').map((e) => `${e.type === 'fault.raised' ? '+' : '-'}${(e as { fault: string }).fault}`);
    m.device.setConditions({ temperatureH: 41 });
    await m.advance(3000);
    m.device.setConditions({ temperatureH: 39 }); // dropped before 5 s: timer restarts
    await m.advance(2000);
    m.device.setConditions({ temperatureH: 41 });
    await m.advance(4000);
    expect(faults()).toEqual([]);
    await m.advance(2000);
    expect(faults()).toEqual(['+TemperatureWarning']);
    m.device.setConditions({ temperatureH: 38 }); // below the level but within the hysteresis
    await m.advance(3000);
    expect(faults()).toEqual(['+TemperatureWarning']);
    m.device.setConditions({ temperatureH: 55 });
    await m.advance(6000);
    expect(faults()).toEqual(['+TemperatureWarning', '+TemperatureError']);
    m.device.setConditions({ temperatureH: 30 });
    await m.advance(1000);
    expect(faults().slice(0, 2)).toEqual(['+TemperatureWarning', '+TemperatureError']);
    expect(faults().slice(2).sort()).toEqual(['-TemperatureError', '-TemperatureWarning']); // both clear in one step
  });
});

describe('readings', () => {
  it('tick at fixed multiples of the period whatever the reading takes', async () => {
    const m = inMemoryMeter({ readingIntervalMs: 1000 });
    await m.start();
    await m.advance(10_000);
    const at = m.calls.filter((c) => c.name === 'readLive').map((c) => c.at);
    expect(at).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
  });
});
