/**
 * The LEM DCBM simulator over real sockets: every endpoint and device rule of reference/lem-dcbm-api.md §3, §5.
 */
import { decomposeValue, parseSections } from '@road-labs/ocmf';
import { describe, expect, it } from 'vitest';
import { SimClock } from '../../src/simulators/lem-dcbm/clock.js';
import { getJson, request, sendJson } from '../helpers/http.js';
import { meterSim, START_V1 } from '../helpers/meter-sim.js';
import { verifyLegal, verifyOcmf } from '../helpers/ocmf-verify.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const HOUR = 3600_000;

describe('GET /v1/status', () => {
  it('has the documented shape with consistent value and bits (idle 17)', async () => {
    const sim = await meterSim();
    const status = await getJson<Json>(`${sim.url()}/v1/status`);
    expect(status.status.value).toBe(17);
    expect(status.status.bits).toEqual({
      suLinkStatusIsOk: true, muFatalErrorOccured: false, transactionIsOnGoing: false, tamperingIsDetected: false,
      timeSyncStatusIsOk: true, overTemperatureIsDetected: false, reversedVoltage: false, suMeasureFailureOccurred: false,
    });
    expect(status.meterId).toMatch(/^\d+$/);
    expect(status.version.applicationFirmwareVersion).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(Object.keys(status.version)).toEqual(['applicationFirmwareVersion', 'applicationFirmwareAuthTag', 'legalFirmwareVersion', 'legalFirmwareAuthTag', 'sensorFirmwareVersion', 'sensorFirmwareCrc']);
    expect(status.errors).toMatchObject({ value: 0 });
    expect(Object.keys(status.errors.bits)).toHaveLength(11);
    expect(status.publicKey).toMatch(/^[0-9A-F]{128}$/);
    expect(status.publicKeyOcmf).toBe(`3059301306072A8648CE3D020106082A8648CE3D03010703420004${status.publicKey}`);
    expect(Number.isNaN(Date.parse(status.time))).toBe(false);
    expect(status).toMatchObject({ indexOfLastTransaction: 0, numberOfStoredTransactions: 0, ipAddress: '127.0.0.1' });
  });
});

describe('GET /v1/livemeasure', () => {
  it('gives the fixture fields in kWh/kW/V/A/°C with a zone-less timestamp', async () => {
    const sim = await meterSim();
    const live = await getJson<Json>(`${sim.url()}/v1/livemeasure`);
    expect(Object.keys(live).sort()).toEqual(['current', 'energyExportTotal', 'energyImportTotal', 'power', 'temperatureH', 'temperatureL', 'timestamp', 'voltage']);
    expect(live.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
    expect(live.power).toBe(0);
    expect(live.energyImportTotal).toBe(188.977);
  });

  it('integrates power into the energy register while a transaction runs', async () => {
    const clock = new SimClock();
    const sim = await meterSim({ clock, chargePowerKw: 50, chargeVoltageV: 400 });
    expect((await sendJson('POST', `${sim.url()}/v1/legal`, START_V1)).status).toBe(201);
    clock.advance(HOUR);
    const live = await getJson<Json>(`${sim.url()}/v1/livemeasure`);
    // one hour at 50 kW after a 10 s ramp: 50 kWh less 5 s worth
    expect(live.energyImportTotal - 188.977).toBeCloseTo(50 - (50 * 5) / 3600, 1);
    expect(live.power).toBeCloseTo(50, 0);
    expect(live.voltage).toBeCloseTo(400, 0);
    expect(live.current).toBeCloseTo(125, 0);
  });

  it('can report the timestamp with its offset instead', async () => {
    const sim = await meterSim({ livemeasureTimestamp: 'offset' });
    const live = await getJson<Json>(`${sim.url()}/v1/livemeasure`);
    expect(live.timestamp).toMatch(/\+00:00$/);
  });
});

describe('transactions', () => {
  it('start → 21 → stop → 17 with a signed final /legal record', async () => {
    const clock = new SimClock();
    const sim = await meterSim({ clock });
    const started = await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    expect(started.status).toBe(201);
    expect(started.json()).toMatchObject({ ...START_V1, running: true, transactionIndex: 1 });
    expect((await getJson<Json>(`${sim.url()}/v1/status`)).status.value).toBe(21);

    clock.advance(70_000);
    const stopped = await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=mock_transaction_id`, '{"running": false}');
    expect(stopped.status).toBe(200);
    const record = stopped.json<Json>();
    expect(record).toMatchObject({ paginationCounter: 1, transactionId: 'mock_transaction_id', evseId: 'mock_evse_id', meterId: sim.device.options.meterId });
    expect(record.meterValue).toMatchObject({ transactionDuration: 70, intermediateRead: false, transactionStatus: 17 });
    expect(record.meterValue.sampleValue.energyUnit).toBe('kWh');
    expect(record.meterValue.timestampStart).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/);
    expect(record.signature).toMatch(/^30[0-9A-F]+$/);
    expect(verifyLegal(record, record.publicKey)).toBe(true);
    expect(verifyLegal({ ...record, transactionId: 'forged' }, record.publicKey)).toBe(false);
    expect((await getJson<Json>(`${sim.url()}/v1/status`)).status.value).toBe(17);
  });

  it('allows one transaction at a time', async () => {
    const sim = await meterSim();
    await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    const second = await sendJson('POST', `${sim.url()}/v1/legal`, { ...START_V1, transactionId: 'other' });
    expect(second.status).toBe(409);
    expect(second.json()).toMatchObject({ error: 'alreadyRunning' });
  });

  it('returns the running record from GET /legal, else the last one', async () => {
    const sim = await meterSim();
    expect((await request(`${sim.url()}/v1/legal`)).status).toBe(404); // empty device
    await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    const current = await getJson<Json>(`${sim.url()}/v1/legal`);
    expect(current).toMatchObject({ transactionId: 'mock_transaction_id', meterValue: { intermediateRead: true } });
    await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false });
    expect(await getJson<Json>(`${sim.url()}/v1/legal`)).toMatchObject({ transactionId: 'mock_transaction_id', meterValue: { intermediateRead: false } });
  });

  it('decodes URL-encoded transaction ids', async () => {
    const sim = await meterSim();
    const id = 'tx 1/ä&b=c';
    await sendJson('POST', `${sim.url()}/v1/legal`, { ...START_V1, transactionId: id });
    const stop = await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=${encodeURIComponent(id)}`, { running: false });
    expect(stop.status).toBe(200);
    expect(stop.json()).toMatchObject({ transactionId: id });
    expect(sim.requests.entries().at(-1)?.query).toEqual({ transactionId: id });
  });

  it('refuses a stop for an unknown or ended transaction (configurable)', async () => {
    const sim = await meterSim();
    expect((await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=nope`, { running: false })).status).toBe(404);
    await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false });
    const again = await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false });
    expect(again.status).toBe(409);
    expect(again.json()).toMatchObject({ error: 'notRunning' });

    const lenient = await meterSim({ stopNotRunning: 'record' });
    await sendJson('POST', `${lenient.url()}/v1/legal`, START_V1);
    await sendJson('PUT', `${lenient.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false });
    const replay = await sendJson('PUT', `${lenient.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false });
    expect(replay.status).toBe(200);
    expect(replay.json()).toMatchObject({ transactionId: 'mock_transaction_id', meterValue: { intermediateRead: false } });
  });

  it('rejects an early stop when configured to, and accepts it after 2 minutes', async () => {
    const clock = new SimClock();
    const sim = await meterSim({ clock, earlyStop: 'reject' });
    await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    const early = await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false });
    expect(early.status).toBe(403);
    expect(early.json()).toMatchObject({ error: 'earlyStop' });
    clock.advance(120_000);
    expect((await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false })).status).toBe(200);
  });

  it('uses configured status and body for rejections', async () => {
    const sim = await meterSim({ rejections: { alreadyRunning: { status: 400, body: '' } } });
    await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    const second = await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    expect(second.status).toBe(400);
    expect(second.text).toBe('');
  });

  it.each([
    ['evseId over 37 bytes', { evseId: 'e'.repeat(38) }, 'evseId'],
    ['transactionId over 37 bytes', { transactionId: 't'.repeat(38) }, 'transactionId'],
    ['empty transactionId', { transactionId: '' }, 'transactionId'],
    ['clientId over 37 bytes (multi-byte)', { clientId: 'ä'.repeat(19) }, 'clientId'],
    ['tariffId 5', { tariffId: 5 }, 'tariffId'],
    ['cableId 8', { cableId: 8 }, 'cableId'],
    ['negative cableId', { cableId: -1 }, 'cableId'],
    ['userData over 128 bytes', { userData: 'u'.repeat(129) }, 'userData'],
    ['a v2 field on a v1 route', { TT: 'tariff' }, 'TT'],
  ])('refuses a start with %s', async (_name, change, field) => {
    const sim = await meterSim();
    const res = await sendJson('POST', `${sim.url()}/v1/legal`, { ...START_V1, ...change });
    expect(res.status).toBe(400);
    expect(res.json<Json>().message).toContain(field);
    expect(sim.device.store.size).toBe(0);
  });

  it('accepts values at the field limits', async () => {
    const sim = await meterSim();
    const res = await sendJson('POST', `${sim.url()}/v1/legal`, { evseId: 'e'.repeat(37), transactionId: 't'.repeat(37), clientId: 'c'.repeat(37), tariffId: 4, cableId: 7, userData: 'u'.repeat(128) });
    expect(res.status).toBe(201);
  });
});

describe('OCMF records', () => {
  it('are LEM-shaped, verify with node:crypto and parse with @road-labs/ocmf', async () => {
    const clock = new SimClock();
    const sim = await meterSim({ clock, chargePowerKw: 22 });
    await sendJson('PUT', `${sim.url()}/v1/settings`, { ocmfId: { IT: 3 } });
    await sendJson('POST', `${sim.url()}/v1/legal`, { ...START_V1, clientId: '04A2B3C4D5E6F7,mock_transaction_id', cableId: 2 });
    clock.advance(HOUR);
    await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false });
    const status = await getJson<Json>(`${sim.url()}/v1/status`);
    const res = await request(`${sim.url()}/v1/ocmf?transactionId=mock_transaction_id`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;
    expect(verifyOcmf(text, status.publicKeyOcmf)).toBe(true);
    expect(verifyOcmf(text.replace('"CI":"mock_evse_id"', '"CI":"forged"'), status.publicKeyOcmf)).toBe(false);

    const signed = parseSections(decomposeValue(text));
    const payload = signed.payloadData as unknown as Json;
    expect(signed.signature).toMatchObject({ SA: 'ECDSA-secp256r1-SHA256' });
    expect(payload).toMatchObject({
      FV: '1.0', GI: 'LEM DCBM', GS: status.meterId, GV: 'v1', PG: 'T1', MV: 'LEM', MS: status.meterId,
      MF: 'MU-0.2.4.0_SU-0.0.8.0', IS: true, IL: 'HEARSAY', IT: 'ISO14443', ID: '04A2B3C4D5E6F7', CT: 'EVSEID', CI: 'mock_evse_id',
    });
    const rd = payload.RD as Json[];
    expect(rd).toHaveLength(4);
    expect(rd.map((r) => [r.TX, r.RI])).toEqual([['B', '1-0:1.8.0'], [undefined, '1-0:2.8.0'], ['E', '1-0:1.8.0'], [undefined, '1-0:2.8.0']]);
    expect(rd[0]).toMatchObject({ RU: 'kWh', RT: 'DC', EF: '', ST: 'G', UC: { UN: '2mR_Comp', UI: 2, UR: 2 } });
    expect(rd[0]?.TM).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2},\d{3}[+-]\d{4} R$/);
    expect(rd[2]?.RV - rd[0]?.RV).toBeCloseTo(22 - (22 * 5) / 3600, 2);
  });

  it('sets ID to the transaction id when IT is NONE, and gives intermediate reads while running', async () => {
    const sim = await meterSim();
    await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    const text = (await request(`${sim.url()}/v1/ocmf`)).text;
    const payload = parseSections(decomposeValue(text)).payloadData as unknown as Json;
    expect(payload).toMatchObject({ IS: false, IT: 'NONE', ID: 'mock_transaction_id' });
    expect((payload.RD as Json[])[2]?.TX).toBe('C');
  });

  it('carries the v2 fields when started on a v2 route', async () => {
    const sim = await meterSim();
    const body = { ...START_V1, TT: 'AC 0.39 EUR/kWh', UV: 'user sw version', UD: 'some text', SC: 1 };
    expect((await sendJson('POST', `${sim.url()}/v2/legal`, body)).status).toBe(201);
    const payload = parseSections(decomposeValue((await request(`${sim.url()}/v2/ocmf?transactionId=mock_transaction_id`)).text)).payloadData as unknown as Json;
    expect(payload).toMatchObject({ TT: 'AC 0.39 EUR/kWh', UV: 'user sw version', UD: 'some text', SC: 1 });
  });
});

describe('read-out addressing and the transaction ring buffer', () => {
  it('reads by slot, by age and by id, overwriting the oldest and searching only the last N', async () => {
    const sim = await meterSim({ capacity: 3, searchDepth: 2 });
    for (const id of ['a', 'b', 'c', 'd']) {
      await sendJson('POST', `${sim.url()}/v1/legal`, { ...START_V1, transactionId: id });
      await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=${id}`, { running: false });
    }
    expect(await getJson<Json>(`${sim.url()}/v1/legal/1`)).toMatchObject({ transactionId: 'd', paginationCounter: 4 }); // slot 1 reused
    expect(await getJson<Json>(`${sim.url()}/v1/legal/2`)).toMatchObject({ transactionId: 'b' });
    expect(await getJson<Json>(`${sim.url()}/v1/legal/-1`)).toMatchObject({ transactionId: 'c' });
    expect(await getJson<Json>(`${sim.url()}/v1/legal/-2`)).toMatchObject({ transactionId: 'b' });
    expect((await request(`${sim.url()}/v1/legal/-3`)).status).toBe(404);
    expect(await getJson<Json>(`${sim.url()}/v1/legal?transactionId=c`)).toMatchObject({ transactionId: 'c' });
    expect((await request(`${sim.url()}/v1/legal?transactionId=b`)).status).toBe(404); // beyond the search depth
    expect((await request(`${sim.url()}/v1/ocmf/2`)).text).toContain('"PG":"T2"');
    expect((await request(`${sim.url()}/v1/ocmf/-1`)).text).toContain('"PG":"T3"');
    expect(await getJson<Json>(`${sim.url()}/v1/status`)).toMatchObject({ indexOfLastTransaction: 1, numberOfStoredTransactions: 3 });
  });

  it('defaults to the real depth: 20 399 slots, search over 840', async () => {
    const sim = await meterSim();
    expect(sim.device.store.capacity).toBe(20_399);
    expect(sim.device.store.searchDepth).toBe(840);
  });
});

describe('API versions', () => {
  it('serves /v2 routes for v2 firmware and 404 for v1 firmware', async () => {
    const v2 = await meterSim({ applicationFirmwareVersion: '0.2.4.0' });
    expect((await request(`${v2.url()}/v2/livemeasure`)).status).toBe(200);
    expect((await request(`${v2.url()}/v2/status`)).status).toBe(404); // status stays v1
    const v1 = await meterSim({ applicationFirmwareVersion: '0.1.4.0' });
    expect((await request(`${v1.url()}/v2/livemeasure`)).status).toBe(404);
    expect((await sendJson('POST', `${v1.url()}/v2/legal`, START_V1)).status).toBe(404);
    const forced = await meterSim({ applicationFirmwareVersion: '0.1.4.0', api: 'v2' });
    expect((await request(`${forced.url()}/v2/livemeasure`)).status).toBe(200);
  });
});

describe('time synchronisation', () => {
  it('refuses starts until the clock is set, and a utc write disables NTP', async () => {
    const sim = await meterSim({ timeSynced: false });
    expect((await getJson<Json>(`${sim.url()}/v1/status`)).status.value).toBe(1);
    const refused = await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    expect(refused.status).toBe(403);
    expect(refused.json<Json>().message).toContain('time synchronisation');

    await sendJson('PUT', `${sim.url()}/v1/settings`, { ntp: { servers: [{ ipAddress: 'test_ntp_1', port: 124 }, { ipAddress: 'test_ntp_2', port: 125 }], syncPeriod: 120, ntpActivated: true } });
    const viaNtp = await getJson<Json>(`${sim.url()}/v1/settings`);
    expect(viaNtp.ntp).toEqual({ servers: [{ ipAddress: 'test_ntp_1', port: 124 }, { ipAddress: 'test_ntp_2', port: 125 }], syncPeriod: 120, ntpActivated: true });
    expect((await getJson<Json>(`${sim.url()}/v1/status`)).status.value).toBe(17);

    const set = await sendJson('PUT', `${sim.url()}/v1/settings`, '{"time":{"utc":"2020-01-01T14:00:00Z"}}');
    expect(set.json()).toEqual({ meterId: sim.device.options.meterId, result: 1 });
    const after = await getJson<Json>(`${sim.url()}/v1/settings`);
    expect(after.ntp.ntpActivated).toBe(false);
    expect(after.time.utc.startsWith('2020-01-01T14:00:0')).toBe(true);
    expect((await sendJson('POST', `${sim.url()}/v1/legal`, START_V1)).status).toBe(201);
  });

  it('expires 48 h after the last sync; refuses time writes during a transaction', async () => {
    const clock = new SimClock();
    const sim = await meterSim({ clock });
    await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    const during = await sendJson('PUT', `${sim.url()}/v1/settings`, { time: { utc: new Date().toISOString() } });
    expect(during.json()).toMatchObject({ result: 0 });
    expect((await sendJson('PUT', `${sim.url()}/v1/settings`, { time: { tz: '+01:00' } })).json()).toMatchObject({ result: 0 });
    expect((await sendJson('PUT', `${sim.url()}/v1/settings`, { ocmfId: { IT: 5 } })).json()).toMatchObject({ result: 1 });

    clock.advance(48 * HOUR);
    const status = await getJson<Json>(`${sim.url()}/v1/status`);
    expect(status.status.bits.timeSyncStatusIsOk).toBe(false);
    expect(status.status.value).toBe(1 + 4);
    const stopped = (await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false })).json<Json>();
    expect(stopped.meterValue.transactionStatus).toBe(1); // time validity lost: not billable
    const ocmf = (await request(`${sim.url()}/v1/ocmf?transactionId=mock_transaction_id`)).text;
    expect(ocmf).toContain('"EF":"t"');
    expect((await sendJson('POST', `${sim.url()}/v1/legal`, { ...START_V1, transactionId: 'next' })).status).toBe(403);
  });

  it('applies the time zone and DST rule to local timestamps', async () => {
    const sim = await meterSim();
    const dst = { activated: true, offset: 60, start: { order: 'last', day: 'sunday', month: 'march', hour: 'T01:00Z' }, end: { order: 'last', day: 'sunday', month: 'october', hour: 'T01:00Z' } };
    await sendJson('PUT', `${sim.url()}/v1/settings`, '{"time": {"tz":"+01:00"}}');
    await sendJson('PUT', `${sim.url()}/v1/settings`, { time: { dst } });
    await sendJson('PUT', `${sim.url()}/v1/settings`, { time: { utc: '2024-07-01T10:00:00Z' } });
    expect((await getJson<Json>(`${sim.url()}/v1/status`)).time).toMatch(/^2024-07-01T12:00:0\d\+02:00$/);
    await sendJson('PUT', `${sim.url()}/v1/settings`, { time: { utc: '2024-12-01T10:00:00Z' } });
    expect((await getJson<Json>(`${sim.url()}/v1/status`)).time).toMatch(/^2024-12-01T11:00:0\d\+01:00$/);
  });
});

describe('settings', () => {
  it('reads and writes every documented setting', async () => {
    const sim = await meterSim();
    const before = await getJson<Json>(`${sim.url()}/v1/settings`);
    expect(before).toMatchObject({ ocmfId: { IT: 0 }, http: { tls_on: false }, time: { tz: '+00:00' }, ntp: { ntpActivated: false } });
    expect(before.time.dst).toEqual({ activated: false, offset: 60, start: { order: 'last', day: 'sunday', month: 'march', hour: 'T01:00Z' }, end: { order: 'last', day: 'sunday', month: 'october', hour: 'T01:00Z' } });
    expect(before.cableConf).toHaveLength(8);
    expect((await sendJson('PUT', `${sim.url()}/v1/settings`, '{"ocmfId":{"IT":5}}')).json()).toEqual({ meterId: sim.device.options.meterId, result: 1 });
    expect((await getJson<Json>(`${sim.url()}/v1/settings`)).ocmfId.IT).toBe(5);
  });

  it.each([
    ['a time zone out of range', { time: { tz: '+15:00' } }],
    ['a time zone off the quarter hour', { time: { tz: '+01:10' } }],
    ['a utc time without Z', { time: { utc: '2024-01-01T00:00:00+01:00' } }],
    ['IT 18', { ocmfId: { IT: 18 } }],
    ['an unknown setting', { colour: 'blue' }],
    ['an incomplete DST rule', { time: { dst: { activated: true } } }],
  ])('answers result 0 with a reason for %s', async (_name, body) => {
    const sim = await meterSim();
    const res = await sendJson('PUT', `${sim.url()}/v1/settings`, body);
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ result: 0, error: expect.stringContaining('invalid settings') });
  });

  it('answers a non-JSON settings body with 400, or result 0 when configured', async () => {
    const strict = await meterSim();
    const bad = await sendJson('PUT', `${strict.url()}/v1/settings`, '{"time": {"dst":}}');
    expect(bad.status).toBe(400);
    expect(bad.json<Json>().message).toContain('not valid JSON');
    const lenient = await meterSim({ malformedSettings: 'result0' });
    const soft = await sendJson('PUT', `${lenient.url()}/v1/settings`, '{"time": {"dst":}}');
    expect(soft.status).toBe(200);
    expect(soft.json()).toMatchObject({ result: 0 });
  });

  it('loses writes made in the first 2 minutes after boot at the next power cycle', async () => {
    const clock = new SimClock();
    const sim = await meterSim({ clock });
    await sendJson('PUT', `${sim.url()}/v1/settings`, { ocmfId: { IT: 5 } });
    await sendJson('PUT', `${sim.url()}/v1/settings`, { time: { tz: '+02:00' } });
    clock.advance(120_000);
    await sendJson('PUT', `${sim.url()}/v1/settings`, { time: { tz: '+03:00' } }); // persisted: overrides the early write
    sim.device.powerCycle();
    const after = sim.device.settingsBody() as Json;
    expect(after.ocmfId.IT).toBe(0);
    expect(after.time.tz).toBe('+03:00');
    await sendJson('PUT', `${sim.url()}/v1/settings`, { ocmfId: { IT: 7 } }); // again within 2 min of the new boot
    clock.advance(120_000);
    sim.device.powerCycle();
    expect((sim.device.settingsBody() as Json).ocmfId.IT).toBe(0);
  });
});

describe('logbook and certificate', () => {
  it('gives a well-formed logbook that raises logbookIsFull at its capacity', async () => {
    const sim = await meterSim({ logbookCapacity: 4 });
    const log = await getJson<Json>(`${sim.url()}/v1/logbook`);
    expect(log.meterId).toBe(sim.device.options.meterId);
    expect(log.logbook[0]).toMatchObject({ eventCode: 'EV_POWER_UP', status: ['STATUS_SENSOR_LINK', 'STATUS_TIME_SYNC'] });
    expect(log.logbook[0].timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false });
    await sendJson('PUT', `${sim.url()}/v1/settings`, { ocmfId: { IT: 1 } });
    const status = await getJson<Json>(`${sim.url()}/v1/status`);
    expect(status.errors.bits.logbookIsFull).toBe(true);
    expect(status.status.bits.muFatalErrorOccured).toBe(true);
    expect((await sendJson('POST', `${sim.url()}/v1/legal`, { ...START_V1, transactionId: 'x' })).status).toBe(403);
  });

  it('returns the PEM without its two inner newlines', async () => {
    const sim = await meterSim();
    const { certificate } = await getJson<{ certificate: string }>(`${sim.url()}/v1/certificate`);
    expect(certificate.startsWith('-----BEGIN CERTIFICATE-----M')).toBe(true);
    expect(certificate).toMatch(/[A-Za-z0-9+/=]-----END CERTIFICATE-----$/);
    const fixed = certificate.replace('-----BEGIN CERTIFICATE-----', '-----BEGIN CERTIFICATE-----\n').replace('-----END CERTIFICATE-----', '\n-----END CERTIFICATE-----\n');
    expect(fixed).toBe(sim.certificatePem);
  });
});

describe('request handling', () => {
  it('accepts chunked bodies with Expect: 100-continue, as the reference driver sends them', async () => {
    const sim = await meterSim();
    const start = await request(`${sim.url()}/v1/legal`, { method: 'POST', body: JSON.stringify(START_V1), chunked: true, expectContinue: true });
    expect(start.status).toBe(201);
    const stop = await request(`${sim.url()}/v1/legal?transactionId=mock_transaction_id`, { method: 'PUT', body: '{"running": false}', chunked: true, expectContinue: true });
    expect(stop.status).toBe(200);
    const logged = sim.requests.entries().find((r) => r.method === 'PUT');
    expect(logged).toMatchObject({ path: '/v1/legal', body: '{"running": false}', query: { transactionId: 'mock_transaction_id' } });
    expect(logged?.headers['transfer-encoding']).toBe('chunked');
    expect(logged?.headers.expect).toBe('100-continue');
  });

  it('records every request with method, path, headers and body', async () => {
    const sim = await meterSim();
    await request(`${sim.url()}/v1/status`);
    await sendJson('PUT', `${sim.url()}/v1/settings`, { ocmfId: { IT: 3 } });
    expect(sim.requests.entries().map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/status', 'PUT /v1/settings']);
    expect(sim.requests.entries()[1]).toMatchObject({ body: '{"ocmfId":{"IT":3}}', tls: false, headers: { 'content-type': 'application/json' } });
  });

  it.each([
    ['an unknown path', 'GET', '/v1/nothing', undefined, 404],
    ['a wrong method', 'DELETE', '/v1/status', undefined, 405],
    ['POST on livemeasure', 'POST', '/v1/livemeasure', '{}', 405],
    ['an empty start body', 'POST', '/v1/legal', '', 400],
    ['a start body that is not JSON', 'POST', '/v1/legal', 'invalid', 400],
    ['a start body that is an array', 'POST', '/v1/legal', '[]', 400],
    ['a stop without an id', 'PUT', '/v1/legal', '{"running": false}', 400],
    ['a stop with running true', 'PUT', '/v1/legal?transactionId=x', '{"running": true}', 400],
    ['an oversized body', 'POST', '/v1/legal', 'x'.repeat(70_000), 413],
  ])('answers %s with a clear 4xx and stays up', async (_name, method, path, body, status) => {
    const sim = await meterSim();
    const res = await request(`${sim.url()}${path}`, { method, ...(body !== undefined ? { body } : {}) });
    expect(res.status).toBe(status);
    expect(res.json<Json>().message).toEqual(expect.any(String));
    expect((await request(`${sim.url()}/v1/status`)).status).toBe(200);
  });

  it('answers garbage on the wire with 400 and keeps serving', async () => {
    const sim = await meterSim();
    const net = await import('node:net');
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(sim.port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => { text += d.toString(); });
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect((await request(`${sim.url()}/v1/status`)).status).toBe(200);
  });
});
