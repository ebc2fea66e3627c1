/**
 * Fault injection of the LEM DCBM simulator (reference §5.4), driven through its admin API over HTTP.
 */
import { describe, expect, it } from 'vitest';
import { getJson, request, sendJson } from '../helpers/http.js';
import { meterSim, START_V1 } from '../helpers/meter-sim.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const admin = async (sim: { adminUrl: string | undefined }, method: string, path: string, body?: unknown) => {
  const res = await request(`${sim.adminUrl}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return res;
};
const errorOf = (promise: Promise<unknown>): Promise<NodeJS.ErrnoException> =>
  promise.then(() => { throw new Error('expected the request to fail'); }, (error: NodeJS.ErrnoException) => error);

describe('response faults', () => {
  it('overrides status and body for a number of requests, then answers normally', async () => {
    const sim = await meterSim();
    expect((await admin(sim, 'POST', '/_sim/faults', { endpoint: 'status', status: 500, body: '"Internal Server Error"', times: 2 })).status).toBe(200);
    for (let i = 0; i < 2; i += 1) {
      const res = await request(`${sim.url()}/v1/status`);
      expect(res.status).toBe(500);
      expect(res.text).toBe('"Internal Server Error"');
    }
    expect((await request(`${sim.url()}/v1/status`)).status).toBe(200);
  });

  it('serves invalid JSON and empty bodies with a success status', async () => {
    const sim = await meterSim();
    await admin(sim, 'POST', '/_sim/faults', { endpoint: 'legal', method: 'POST', status: 201, body: 'invalid', times: 1 });
    await admin(sim, 'POST', '/_sim/faults', { endpoint: 'ocmf', status: 200, body: '', times: 1 });
    const start = await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    expect(start).toMatchObject({ status: 201, text: 'invalid' });
    expect(sim.device.store.size).toBe(0); // the device operation did not run
    expect(await request(`${sim.url()}/v1/ocmf`)).toMatchObject({ status: 200, text: '' });
  });

  it('matches by method', async () => {
    const sim = await meterSim();
    await admin(sim, 'POST', '/_sim/faults', { endpoint: 'settings', method: 'PUT', status: 200, body: '{"meterId":"1","result":0}' });
    expect((await request(`${sim.url()}/v1/settings`)).status).toBe(200);
    expect((await sendJson('PUT', `${sim.url()}/v1/settings`, { ocmfId: { IT: 1 } })).json()).toEqual({ meterId: '1', result: 0 });
  });

  it('delays a response beyond a client timeout', async () => {
    const sim = await meterSim();
    await admin(sim, 'POST', '/_sim/faults', { endpoint: 'livemeasure', delayMs: 1500, times: 1 });
    const error = await errorOf(request(`${sim.url()}/v1/livemeasure`, { timeoutMs: 300 }));
    expect(error.message).toContain('timed out');
    expect((await request(`${sim.url()}/v1/livemeasure`)).status).toBe(200);
  });

  it('drops the connection before answering, or in the middle of the body', async () => {
    const sim = await meterSim();
    await admin(sim, 'POST', '/_sim/faults', { endpoint: 'status', drop: 'immediately', times: 1 });
    await admin(sim, 'POST', '/_sim/faults', { endpoint: 'status', drop: 'midResponse', times: 1 });
    expect((await errorOf(request(`${sim.url()}/v1/status`))).code).toMatch(/ECONNRESET|ECONNABORTED/);
    const mid = await errorOf(request(`${sim.url()}/v1/status`));
    expect(mid.code ?? mid.message).toMatch(/ECONNRESET|aborted/);
    expect((await request(`${sim.url()}/v1/status`)).status).toBe(200);
  });

  it('validates admin input and clears faults', async () => {
    const sim = await meterSim();
    const bad = await admin(sim, 'POST', '/_sim/faults', { endpoint: 'nowhere', status: 99 });
    expect(bad.status).toBe(400);
    expect(bad.json<Json>().message).toContain('endpoint');
    expect((await request(`${sim.adminUrl}/_sim/faults`, { method: 'POST', body: '{' })).status).toBe(400);
    await admin(sim, 'POST', '/_sim/faults', { endpoint: '*', status: 503 });
    expect((await request(`${sim.url()}/v1/livemeasure`)).status).toBe(503);
    await admin(sim, 'DELETE', '/_sim/faults');
    expect((await request(`${sim.url()}/v1/livemeasure`)).status).toBe(200);
  });
});

describe('connection faults', () => {
  it('refuses connections for a while, as while booting', async () => {
    const sim = await meterSim();
    await admin(sim, 'POST', '/_sim/connections/refuse', { ms: 400 });
    expect((await errorOf(request(`${sim.url()}/v1/status`))).code).toBe('ECONNREFUSED');
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await request(`${sim.url()}/v1/status`)).status).toBe(200);
  });

  it('resets the next connections', async () => {
    const sim = await meterSim();
    await admin(sim, 'POST', '/_sim/connections/reset', { count: 1 });
    expect((await errorOf(request(`${sim.url()}/v1/status`))).code).toBe('ECONNRESET');
    expect((await request(`${sim.url()}/v1/status`)).status).toBe(200);
  });
});

describe('device faults', () => {
  it('raises status bits and blocks starts on link loss and errors', async () => {
    const sim = await meterSim();
    await admin(sim, 'PUT', '/_sim/device', { tampering: true, overTemperature: true, measureFailure: true });
    const raised = await getJson<Json>(`${sim.url()}/v1/status`);
    expect(raised.status.value).toBe(17 + 8 + 32 + 128);
    expect((await sendJson('POST', `${sim.url()}/v1/legal`, START_V1)).status).toBe(201); // indicators do not block
    await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false });

    await admin(sim, 'PUT', '/_sim/device', { tampering: false, overTemperature: false, measureFailure: false, linkOk: false });
    expect((await getJson<Json>(`${sim.url()}/v1/status`)).status.value).toBe(16);
    const noLink = await sendJson('POST', `${sim.url()}/v1/legal`, { ...START_V1, transactionId: 'b' });
    expect(noLink.status).toBe(403);
    expect(noLink.json<Json>().message).toContain('link');

    await admin(sim, 'PUT', '/_sim/device', { linkOk: true, errors: 1 << 6 });
    const withError = await getJson<Json>(`${sim.url()}/v1/status`);
    expect(withError.errors).toMatchObject({ value: 64, bits: { suIntegrityIsFailed: true } });
    expect(withError.status.bits.muFatalErrorOccured).toBe(true);
    expect((await sendJson('POST', `${sim.url()}/v1/legal`, { ...START_V1, transactionId: 'c' })).status).toBe(403);
  });

  it('records flags raised during a transaction in its transactionStatus and OCMF status', async () => {
    const sim = await meterSim();
    await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    await admin(sim, 'PUT', '/_sim/device', { tampering: true });
    await admin(sim, 'PUT', '/_sim/device', { tampering: false });
    const record = (await sendJson('PUT', `${sim.url()}/v1/legal?transactionId=mock_transaction_id`, { running: false })).json<Json>();
    expect(record.meterValue.transactionStatus).toBe(25); // 17 + tampering
    expect((await request(`${sim.url()}/v1/ocmf?transactionId=mock_transaction_id`)).text).toContain('"ST":"T"');
  });

  it('latches reversed voltage and errors until a power cycle', async () => {
    const sim = await meterSim();
    await admin(sim, 'PUT', '/_sim/device', { reversedVoltage: true, errors: 1 });
    await admin(sim, 'PUT', '/_sim/device', { reversedVoltage: false });
    const latched = await getJson<Json>(`${sim.url()}/v1/status`);
    expect(latched.status.bits.reversedVoltage).toBe(true);
    expect(latched.errors.value).toBe(1);
    await admin(sim, 'POST', '/_sim/reboot', { downMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const cleared = await getJson<Json>(`${sim.url()}/v1/status`);
    expect(cleared.status.value).toBe(17);
    expect(cleared.errors.value).toBe(0);
  });

  it('sets temperatures and power for the live values', async () => {
    const sim = await meterSim();
    await admin(sim, 'PUT', '/_sim/device', { temperatureH: 61.5, temperatureL: 40, powerKw: -10, voltageV: 500 });
    const live = await getJson<Json>(`${sim.url()}/v1/livemeasure`);
    expect(live).toMatchObject({ temperatureH: 61.5, temperatureL: 40, voltage: 500 });
    expect(live.power).toBeCloseTo(-10, 0);
    expect(live.current).toBeCloseTo(-20, 0);
    await admin(sim, 'PUT', '/_sim/device', { temperatureH: null, powerKw: null, voltageV: null });
    expect((await getJson<Json>(`${sim.url()}/v1/livemeasure`)).power).toBe(0);
  });

  it('expires the time sync and advances the clock', async () => {
    const sim = await meterSim();
    expect((await admin(sim, 'POST', '/_sim/time/expire')).json<Json>().status).toBe(1);
    await sendJson('PUT', `${sim.url()}/v1/settings`, { time: { utc: new Date().toISOString() } });
    expect((await getJson<Json>(`${sim.url()}/v1/status`)).status.value).toBe(17);
    const warped = (await admin(sim, 'POST', '/_sim/time/advance', { ms: 48 * 3600_000 })).json<Json>();
    expect(warped.status).toBe(1);
  });
});

describe('reboot', () => {
  it('closes a running transaction at power loss, refuses connections while down, keeps stored data', async () => {
    const sim = await meterSim();
    await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    await admin(sim, 'POST', '/_sim/reboot', { downMs: 300 });
    expect((await errorOf(request(`${sim.url()}/v1/status`))).code).toBe('ECONNREFUSED');
    await new Promise((resolve) => setTimeout(resolve, 450));
    const status = await getJson<Json>(`${sim.url()}/v1/status`);
    expect(status.status.value).toBe(17);
    expect(status.numberOfStoredTransactions).toBe(1);
    const last = await getJson<Json>(`${sim.url()}/v1/legal`);
    expect(last).toMatchObject({ transactionId: 'mock_transaction_id', meterValue: { intermediateRead: false } });
    expect((await request(`${sim.url()}/v1/ocmf?transactionId=mock_transaction_id`)).text).toContain('"TX":"E"');
    const log = (await getJson<Json>(`${sim.url()}/v1/logbook`)).logbook as Json[];
    expect(log.map((e) => e.eventCode)).toEqual(expect.arrayContaining(['EV_POWER_SUPPLY_FAILURE', 'EV_POWER_UP']));
  });

  it('can leave the transaction open across the reboot', async () => {
    const sim = await meterSim({ closeTransactionOnPowerLoss: false });
    await sendJson('POST', `${sim.url()}/v1/legal`, START_V1);
    await admin(sim, 'POST', '/_sim/reboot', { downMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const status = await getJson<Json>(`${sim.url()}/v1/status`);
    expect(status.status).toMatchObject({ value: 21, bits: { transactionIsOnGoing: true } });
    expect(await getJson<Json>(`${sim.url()}/v1/legal`)).toMatchObject({ transactionId: 'mock_transaction_id', meterValue: { intermediateRead: true } });
  });

  it('reports its state and request log through the admin API', async () => {
    const sim = await meterSim();
    await request(`${sim.url()}/v1/status`);
    const state = (await admin(sim, 'GET', '/_sim/state')).json<Json>();
    expect(state).toMatchObject({ status: 17, tlsOn: false, runningTransactionId: null, lastRequestSeq: 1 });
    const log = (await admin(sim, 'GET', '/_sim/requests?since=0')).json<Json[]>();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ method: 'GET', path: '/v1/status' });
    await admin(sim, 'DELETE', '/_sim/requests');
    expect((await admin(sim, 'GET', '/_sim/requests')).json<Json[]>()).toHaveLength(0);
    expect((await admin(sim, 'GET', '/_sim/nothing')).status).toBe(404);
  });
});
