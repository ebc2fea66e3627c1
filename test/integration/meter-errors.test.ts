/**
 * Meter errors that say what to do (issue 16), over real sockets against the meter simulator, its faults switched
 * through its admin API: a pin mismatch names meter_tls_certificate and both fingerprints (without Node's
 * --use-system-ca advice), plain HTTP to a meter in HTTPS mode points at meter_tls_certificate, HTTPS to a plain
 * meter says to clear it, a refused connection is not called a timeout, and a timeout names command_timeout_ms.
 */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DcbmClient } from '../../src/adapters/lem-dcbm/dcbm.client.js';
import { createMeterDriver } from '../../src/adapters/lem-dcbm/meter.driver.js';
import { parseMeterConfig } from '../../src/config/meter.config.js';
import { ControllerError } from '../../src/domain/errors.js';
import type { MeterSimulator } from '../../src/simulators/lem-dcbm/index.js';
import { request } from '../helpers/http.js';
import { meterSim } from '../helpers/meter-sim.js';

const admin = async (sim: MeterSimulator, method: string, path: string, body: unknown): Promise<void> => {
  const res = await request(`${sim.adminUrl}${path}`, { method, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
};

const client = (sim: MeterSimulator, options: { certificatePem?: string; timeoutMs?: number } = {}) =>
  new DcbmClient({ host: '127.0.0.1', port: sim.port, name: 'left', timeoutMs: options.timeoutMs ?? 2000, certificatePem: options.certificatePem });

async function failure(promise: Promise<unknown>): Promise<ControllerError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ControllerError);
  return error as ControllerError;
}

describe('meter transport errors', () => {
  it('a pin mismatch names meter_tls_certificate of the meter and both fingerprints, without Node\'s --use-system-ca hint', async () => {
    const sim = await meterSim({ tls: true });
    await admin(sim, 'PUT', '/_sim/tls/wrong-certificate', { enabled: true });
    const error = await failure(client(sim, { certificatePem: sim.certificatePem }).getStatus());
    const pinned = new X509Certificate(sim.certificatePem).fingerprint256;
    expect(error.kind).toBe('transport');
    expect(error.message).toMatch(new RegExp(`^GET /v1/status: the meter at 127\\.0\\.0\\.1:${sim.port} presented a certificate other than meter_tls_certificate of meter "left" \\(presented SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}, pinned ${pinned}\\)`));
    expect(error.message).not.toContain(`presented SHA-256 ${pinned}`);
    expect(error.message).not.toMatch(/use-system-ca/);
    await admin(sim, 'PUT', '/_sim/tls/wrong-certificate', { enabled: false });
    expect((await client(sim, { certificatePem: sim.certificatePem }).getStatus()).meterId).toBe(sim.device.options.meterId);
  });

  it('plain HTTP to a meter in HTTPS mode says to set meter_tls_certificate (it was "ECONNRESET socket hang up")', async () => {
    const sim = await meterSim({ tls: true });
    const error = await failure(client(sim).getStatus());
    expect(error).toMatchObject({ kind: 'transport', reason: 'reset' });
    expect(error.message).toContain(`the meter at 127.0.0.1:${sim.port} closed the connection without answering (ECONNRESET socket hang up)`);
    expect(error.message).toContain('the meter may be in HTTPS mode (http.tls_on): set meter_tls_certificate of meter "left"');
  });

  it('HTTPS to a meter in plain HTTP mode says to clear meter_tls_certificate', async () => {
    const sim = await meterSim();
    const error = await failure(client(sim, { certificatePem: sim.certificatePem }).getStatus());
    expect(error.kind).toBe('transport');
    expect(error.message).toMatch(/the TLS handshake with 127\.0\.0\.1:\d+ failed/);
    expect(error.message).toContain('the meter may be in plain HTTP mode (http.tls_on off): clear meter_tls_certificate of meter "left", or switch the meter\'s TLS on');
  });

  it('a refused connection is named so, with the keys to check, and is not called a timeout', async () => {
    const sim = await meterSim();
    await admin(sim, 'POST', '/_sim/connections/refuse', { ms: 5000 });
    const error = await failure(client(sim).getStatus());
    expect(error).toMatchObject({ kind: 'transport', reason: 'refused' });
    expect(error.message).toBe(`GET /v1/status: connection refused by 127.0.0.1:${sim.port}: nothing listens there (the meter is off or restarting, or ip_address/port of meter "left" is wrong)`);
    expect(error.message).not.toMatch(/timed out|timeout/i);
  });

  it('a timeout names command_timeout_ms', async () => {
    const sim = await meterSim();
    await admin(sim, 'POST', '/_sim/faults', { endpoint: 'status', delayMs: 2000, times: 1 });
    const error = await failure(client(sim, { timeoutMs: 1000 }).getStatus());
    expect(error).toMatchObject({ kind: 'transport', reason: 'timeout' });
    expect(error.message).toBe('GET /v1/status timed out after 1000 ms (no answer; command_timeout_ms of meter "left" sets the limit)');
  });

  it('a meter_tls_certificate that is still a file path is refused with the way out', () => {
    expect(() => new DcbmClient({ host: '127.0.0.1', port: 1, name: 'left', timeoutMs: 1000, certificatePem: '/etc/charger/meter.pem' }))
      .toThrow('meter_tls_certificate of meter "left" is the file path "/etc/charger/meter.pem", not PEM text');
  });
});

describe('the meter driver\'s communication fault', () => {
  it('carries the cause: a refused connection raises the fault with "connection refused", and HTTPS mode with the hint', async () => {
    const sim = await meterSim({ tls: true });
    const parsed = parseMeterConfig({ ip_address: '127.0.0.1', port: sim.port, warmup_ms: 0, resilience_initial_connection_retry_delay: 100, command_timeout_ms: 1000 });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const driver = createMeterDriver(parsed.value);
    const raised: { fault: string; message: string; everest: { subType: string } }[] = [];
    driver.actor.on('fault.raised', (e) => raised.push(e));
    driver.actor.start();
    try {
      for (const deadline = Date.now() + 5000; !raised.length && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(raised[0]?.fault).toBe('CommunicationFault');
      expect(raised[0]?.message).toContain('the meter may be in HTTPS mode (http.tls_on): set meter_tls_certificate');
      expect(raised[0]?.everest.subType).toBe('Connection lost');
    } finally {
      await driver.stop();
    }
    const down = await meterSim();
    await admin(down, 'POST', '/_sim/connections/refuse', { ms: 5000 });
    const refused = parseMeterConfig({ ip_address: '127.0.0.1', port: down.port, warmup_ms: 0, resilience_initial_connection_retry_delay: 100 });
    if (!refused.ok) throw new Error(refused.problems.join('; '));
    const second = createMeterDriver(refused.value);
    const messages: string[] = [];
    const subTypes: string[] = [];
    second.actor.on('fault.raised', (e) => {
      messages.push(e.message);
      subTypes.push(e.everest.subType);
    });
    second.actor.start();
    try {
      for (const deadline = Date.now() + 5000; !messages.length && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(messages[0]).toMatch(/^GET \/v1\/status: connection refused by 127\.0\.0\.1:\d+: nothing listens there/);
      // The EVerest sub-type names the cause: a refusal is not "Communication timed out".
      expect(subTypes[0]).toBe('Connection refused');
    } finally {
      await second.stop();
    }
  });
});
