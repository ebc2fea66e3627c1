/**
 * The meter driver (statechart + DcbmClient) against the LEM DCBM simulator over real sockets, HTTP and HTTPS.
 * Assertions are on what the simulator recorded and what the driver emitted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AnyEventObject } from 'xstate';
import { createMeterDriver, type MeterDriver } from '../../src/adapters/lem-dcbm/meter.driver.js';
import { parseMeterConfig, type MeterConfigInput } from '../../src/config/meter.config.js';
import type { MeterSimulator } from '../../src/simulators/lem-dcbm/index.js';
import { meterSim } from '../helpers/meter-sim.js';
import { verifyOcmf } from '../helpers/ocmf-verify.js';
import { txReq } from '../helpers/in-memory-meter.js';

const drivers: MeterDriver[] = [];
afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.stop()));
});

function startDriver(sim: MeterSimulator, overrides: Partial<MeterConfigInput> = {}) {
  const parsed = parseMeterConfig({
    ip_address: '127.0.0.1', port: sim.port, warmup_ms: 0, reading_interval_ms: 100,
    resilience_initial_connection_retry_delay: 100, resilience_transaction_request_retry_delay: 50, command_timeout_ms: 1000,
    ...overrides,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const driver = createMeterDriver(parsed.value);
  drivers.push(driver);
  const events: AnyEventObject[] = [];
  driver.actor.on('*', (e) => events.push(e));
  driver.actor.start();
  const waitFor = async (predicate: (e: AnyEventObject) => boolean, timeoutMs = 5000): Promise<AnyEventObject> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = events.find(predicate);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no matching event within ${timeoutMs} ms; got ${events.map((e) => e.type).join(', ')}`);
  };
  const operational = () => waitFor((e) => e.type === 'reading');
  const state = () => driver.actor.getSnapshot().value as Record<string, Record<string, unknown>>;
  const faults = () => events.filter((e) => e.type.startsWith('fault.')).map((e) => `${e.type === 'fault.raised' ? '+' : '-'}${e.fault}`);
  return { driver, events, waitFor, operational, state, faults };
}

const requestsOf = (sim: MeterSimulator, method: string, path: string) => sim.requests.entries().filter((r) => r.method === method && r.path === path);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('meter driver over HTTP', () => {
  it('inits, syncs time, publishes readings in EVerest units, starts and stops with a verified OCMF', async () => {
    const sim = await meterSim();
    const { driver, waitFor, operational } = startDriver(sim, { meter_timezone: '+01:00' });
    const reading = await operational();
    expect(reading.reading).toMatchObject({ meter_id: sim.device.options.meterId, energy_Wh_import: { total: 188977 }, energy_Wh_export: { total: 4405 }, power_W: { total: 0 } });
    expect(reading.reading.temperatures.map((t: { identification: string }) => t.identification)).toEqual(['temperatureH', 'temperatureL']);
    await waitFor((e) => e.type === 'reading' && requestsOf(sim, 'PUT', '/v1/settings').length >= 3);
    expect(sim.requests.entries().slice(0, 3).map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/status', 'GET /v2/legal', 'GET /v2/livemeasure']);
    expect(requestsOf(sim, 'PUT', '/v1/settings').map((r) => Object.keys(JSON.parse(r.body).time)[0])).toEqual(['utc', 'tz', 'dst']);

    const started = await driver.startTransaction(txReq('tx-1', { identification_data: 'ABCD' }));
    expect(started.status).toBe('OK');
    expect(JSON.parse(requestsOf(sim, 'POST', '/v2/legal')[0]?.body ?? '{}')).toMatchObject({ transactionId: 'tx-1', clientId: 'ABCD,tx-1' });
    const withOcmf = await waitFor((e) => e.type === 'reading' && e.reading.signed_meter_value !== undefined);
    expect(withOcmf.reading.signed_meter_value.signed_meter_data).toContain('"TX":"C"');
    const stopped = await driver.stopTransaction('tx-1');
    expect(stopped.status).toBe('OK');
    expect(stopped.signed_meter_value).toMatchObject({ encoding_method: 'OCMF', signing_method: '', public_key: sim.device.keys.publicKeyOcmf });
    expect(verifyOcmf(stopped.signed_meter_value!.signed_meter_data, sim.device.keys.publicKeyOcmf)).toBe(true);
    expect(stopped.signed_meter_value!.signed_meter_data).toContain('"TX":"E"');
    expect(requestsOf(sim, 'PUT', '/v2/legal')).toHaveLength(1);
    expect(requestsOf(sim, 'PUT', '/v2/legal')[0]?.query).toEqual({ transactionId: 'tx-1' });
  });

  it('uses the v1 routes for v1 firmware, and URL-encodes transaction ids', async () => {
    const sim = await meterSim({ applicationFirmwareVersion: '0.1.4.0' });
    const { driver, operational } = startDriver(sim);
    await operational();
    const id = 'tx 1/ä?&';
    expect((await driver.startTransaction(txReq(id))).status).toBe('OK');
    expect((await driver.stopTransaction(id)).status).toBe('OK');
    const put = requestsOf(sim, 'PUT', '/v1/legal')[0];
    expect(put?.url).toBe(`/v1/legal?transactionId=${encodeURIComponent(id)}`);
    expect(put?.query.transactionId).toBe(id);
    expect(sim.requests.entries().some((r) => r.path.startsWith('/v2/'))).toBe(false);
  });

  it('waits for a meter that is down at start, then comes up', async () => {
    const sim = await meterSim();
    sim.refuseFor(600);
    const { operational, faults } = startDriver(sim);
    await operational();
    expect(faults()).toEqual(['+CommunicationFault', '-CommunicationFault']);
    expect(requestsOf(sim, 'GET', '/v1/status').length).toBeGreaterThanOrEqual(1);
  });

  it('treats 5xx and invalid JSON as device errors without a communication fault', async () => {
    const sim = await meterSim();
    const { operational, waitFor, faults } = startDriver(sim);
    await operational();
    sim.faults.addResponseFault({ endpoint: 'livemeasure', status: 500, body: '"Internal Server Error"', times: 2 });
    sim.faults.addResponseFault({ endpoint: 'livemeasure', status: 200, body: 'invalid', times: 2 });
    await pause(700);
    await waitFor((e) => e.type === 'reading' && requestsOf(sim, 'GET', '/v2/livemeasure').length > 6);
    expect(faults()).toEqual([]);
  });

  it('raises the communication fault on a timeout and clears it, re-reading status and legal', async () => {
    const sim = await meterSim();
    const { operational, waitFor, faults } = startDriver(sim);
    await operational();
    sim.faults.addResponseFault({ endpoint: 'livemeasure', delayMs: 1500, times: 1 });
    await waitFor((e) => e.type === 'fault.cleared', 6000);
    expect(faults()).toEqual(['+CommunicationFault', '-CommunicationFault']);
    expect(requestsOf(sim, 'GET', '/v1/status')).toHaveLength(2);
  });

  it('fetches the OCMF again after a failed read, without repeating the stop PUT', async () => {
    const sim = await meterSim();
    const { driver, operational } = startDriver(sim);
    await operational();
    await driver.startTransaction(txReq('tx-1'));
    sim.faults.addResponseFault({ endpoint: 'ocmf', status: 500, body: 'Internal Server Error', times: 20 });
    await pause(300); // the readings' OCMF cache reads fail too
    sim.faults.clear();
    sim.faults.addResponseFault({ endpoint: 'ocmf', drop: 'immediately', times: 1 });
    const stopped = await driver.stopTransaction('tx-1');
    expect(stopped.status).toBe('OK');
    expect(requestsOf(sim, 'PUT', '/v2/legal')).toHaveLength(1);
    const ocmfAfterPut = sim.requests.entries().filter((r) => r.seq > requestsOf(sim, 'PUT', '/v2/legal')[0]!.seq && r.path === '/v2/ocmf');
    expect(ocmfAfterPut.length).toBeGreaterThanOrEqual(2);
  });

  it('closes a dangling transaction found at start-up with stop("")', async () => {
    const sim = await meterSim({ closeTransactionOnPowerLoss: false });
    sim.device.start({ evseId: 'E1', transactionId: 'left-open' }, 'v2');
    const { driver, operational, state } = startDriver(sim);
    await operational();
    expect(state().operational?.transaction).toBe('running');
    const stopped = await driver.stopTransaction('');
    expect(stopped.status).toBe('OK');
    expect(requestsOf(sim, 'PUT', '/v2/legal').map((r) => r.query.transactionId)).toEqual(['left-open']);
    expect(sim.device.store.running()).toBeUndefined();
    expect((await driver.stopTransaction('')).error).toBe('No dangling transaction open');
  });

  it('recovers from a meter reboot mid-transaction and fetches the record the meter closed', async () => {
    const sim = await meterSim();
    const { driver, operational, waitFor, faults } = startDriver(sim);
    await operational();
    await driver.startTransaction(txReq('tx-1'));
    sim.reboot(400);
    await waitFor((e) => e.type === 'fault.cleared', 6000);
    expect(faults()).toEqual(['+CommunicationFault', '-CommunicationFault']);
    const stopped = await driver.stopTransaction('tx-1');
    expect(stopped.status).toBe('OK');
    expect(stopped.signed_meter_value?.signed_meter_data).toContain('"TX":"E"');
    expect(requestsOf(sim, 'PUT', '/v2/legal')).toHaveLength(0); // the meter closed it at power loss
  });

  it('refuses a start when the time sync before it fails, without posting', async () => {
    const sim = await meterSim({ timeSynced: false });
    const { driver, operational } = startDriver(sim, { resilience_transaction_request_retries: 1 });
    await operational();
    await pause(300);
    sim.faults.addResponseFault({ endpoint: 'settings', method: 'PUT', status: 200, body: '{"meterId":"1","result":0}' });
    sim.device.expireTimeSync();
    const started = await driver.startTransaction(txReq('tx-1'));
    expect(started.status).toBe('UNEXPECTED_ERROR');
    expect(started.error).toContain('refused the settings write');
    expect(requestsOf(sim, 'POST', '/v2/legal')).toHaveLength(0);
    sim.faults.clear();
    expect((await driver.startTransaction(txReq('tx-2'))).status).toBe('OK'); // the sync before the start makes it possible
  });
});

describe('meter driver over HTTPS with the pinned certificate', () => {
  it('accepts the pinned certificate given as the meter serves it (newlines missing)', async () => {
    const sim = await meterSim({ tls: true });
    const { certificate } = sim.device.certificateBody();
    const { driver, operational } = startDriver(sim, { meter_tls_certificate: certificate });
    await operational();
    expect((await driver.startTransaction(txReq('tx-1'))).status).toBe('OK');
    expect(sim.requests.entries().every((r) => r.tls)).toBe(true);
  });

  it('refuses any other certificate', async () => {
    const sim = await meterSim({ tls: true });
    sim.faults.wrongCertificate = true;
    const { waitFor, state } = startDriver(sim, { meter_tls_certificate: sim.certificatePem, resilience_initial_connection_retries: 1 });
    const raised = await waitFor((e) => e.type === 'fault.raised');
    expect(raised).toMatchObject({ fault: 'CommunicationFault' });
    expect(String(raised.message)).toMatch(/certificate|self-signed|fingerprint/i);
    expect(state()).toHaveProperty('connecting');
    expect(sim.requests.entries()).toHaveLength(0); // no request got through
  });

  it('refuses a plain-HTTP meter when a certificate is configured, and the reverse', async () => {
    const plain = await meterSim();
    const tls = startDriver(plain, { meter_tls_certificate: plain.certificatePem });
    await tls.waitFor((e) => e.type === 'fault.raised');
    expect(plain.requests.entries()).toHaveLength(0);
  });
});
