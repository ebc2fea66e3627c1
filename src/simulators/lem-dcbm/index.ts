/**
 * Starts a simulated LEM DCBM 400/600 meter: the device model, its HTTP/HTTPS port and an optional admin port.
 * Several can run in one process (one per EVSE); nothing here is module-level state.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSelfSignedRsa } from '../../pki/certificate.js';
import { createAdminServer } from './admin.js';
import { MeterDevice } from './device.js';
import { FaultInjector } from './faults.js';
import { resolveOptions, type MeterSimulatorInput } from './options.js';
import { RequestLog } from './request-log.js';
import { MeterServer } from './server.js';

export interface MeterSimulatorListen {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Admin API port; omit for none, 0 for a free one. */
  adminPort?: number | undefined;
}

export interface MeterSimulator {
  readonly device: MeterDevice;
  readonly faults: FaultInjector;
  readonly requests: RequestLog;
  readonly host: string;
  readonly port: number;
  /** `http://host:port` or `https://...` as the TLS setting stands now. */
  url(): string;
  readonly adminUrl: string | undefined;
  /** The meter's certificate as the operator pins it (proper PEM). */
  readonly certificatePem: string;
  reboot(downMs?: number): void;
  refuseFor(ms: number): void;
  state(): Record<string, unknown>;
  close(): Promise<void>;
}

export async function startMeterSimulator(input: MeterSimulatorInput & MeterSimulatorListen = {}): Promise<MeterSimulator> {
  const { host = '127.0.0.1', port = 0, adminPort, ...deviceInput } = input;
  const options = resolveOptions(deviceInput);
  const own = options.tlsKeyPem && options.tlsCertPem
    ? { keyPem: options.tlsKeyPem, certPem: options.tlsCertPem }
    : createSelfSignedRsa({ commonName: `LEM DCBM ${options.meterId}`, altNames: [host], bits: options.tlsKeyBits });
  const wrong = createSelfSignedRsa({ commonName: `LEM DCBM ${options.meterId}`, altNames: [host], bits: options.tlsKeyBits });

  const device = new MeterDevice(options, own.certPem);
  const faults = new FaultInjector();
  const requests = new RequestLog(options.requestLogLimit);
  const server = new MeterServer(device, faults, requests, { ...own, wrongKeyPem: wrong.keyPem, wrongCertPem: wrong.certPem });
  const bound = await server.listen(port, host);

  let admin: http.Server | undefined;
  const sim: MeterSimulator = {
    device, faults, requests, host, port: bound.port,
    url: () => `${device.settings.tlsOn ? 'https' : 'http'}://${host}:${bound.port}`,
    adminUrl: undefined,
    certificatePem: own.certPem,
    reboot(downMs = 2000) {
      device.powerCycle(downMs);
      server.refuseFor(downMs);
    },
    refuseFor: (ms) => server.refuseFor(ms),
    state: () => ({
      meterId: options.meterId,
      url: sim.url(),
      status: device.statusValue(),
      errors: device.errors,
      conditions: device.conditions,
      tlsOn: device.settings.tlsOn,
      runningTransactionId: device.store.running()?.transactionId ?? null,
      storedTransactions: device.store.size,
      deviceTime: new Date(device.utcNow()).toISOString(),
      faults: faults.describe(),
      lastRequestSeq: requests.lastSeq,
    }),
    async close() {
      await server.close();
      if (admin) await new Promise<void>((resolve) => admin?.close(() => resolve()));
      admin?.closeAllConnections();
    },
  };
  if (adminPort !== undefined) {
    admin = createAdminServer(sim);
    const server = admin;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(adminPort, host, resolve);
    });
    (sim as { adminUrl: string | undefined }).adminUrl = `http://${host}:${(server.address() as AddressInfo).port}`;
  }
  return sim;
}

export { MeterDevice } from './device.js';
export type { MeterSimulatorInput } from './options.js';
