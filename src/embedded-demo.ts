/**
 * The embedded default for `npm start` with no config: an in-process LEM DCBM simulator and an in-process 2030.5
 * test server (mutual TLS with a fresh test PKI), and the config that points the controller at both. Nothing
 * here touches a network beyond loopback.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMeterConfig } from './config/meter.config.js';
import { parseRegistrationConfig, type RegistrationConfig } from './config/registration.config.js';
import type { ControllerConfig } from './config/controller.config.js';
import { certificateIdentity } from './adapters/sep2/identity.js';
import { createSep2Pki } from './pki/sep2-pki.js';
import { startMeterSimulator, type MeterSimulator } from './simulators/lem-dcbm/index.js';
import { startSep2Server, type Sep2Server } from './simulators/sep2-server/index.js';

export interface EmbeddedDemo {
  config: ControllerConfig;
  /** Client TLS material for the registration (in memory; no files needed). */
  registrationTls: { certPem: string; keyPem: string; caPem: string };
  meterSimulator: MeterSimulator;
  sep2Server: Sep2Server;
  tokenFile: string;
  close(): Promise<void>;
}

export async function startEmbeddedDemo(options: { stateDir: string; feedPort: number; warmupMs?: number }): Promise<EmbeddedDemo> {
  const meterSimulator = await startMeterSimulator({ host: '127.0.0.1', port: 0 });
  const pki = createSep2Pki('charger-controller demo');
  const server = pki.issueServer(['127.0.0.1']);
  const device = pki.issueDevice('DEMO-CHARGER');
  // The utility knows the charger (registered out of band, as utilities do) and has a DER program for it: a default
  // import limit of 50 kW, and, a minute after start, a 2-minute control limiting it to 7 kW, so `npm start` shows
  // the limit change. Programs and controls are read every 10 s; the admin API (loopback) gives more controls.
  const sep2Server = await startSep2Server({
    profile: 'envoy', tls: { keyPem: server.keyPem, certPem: server.certPem, caPem: pki.sercaPem }, adminPort: 0,
    preRegistered: [{ lfdi: certificateIdentity(device.certPem).lfdi }],
    pollRates: { FunctionSetAssignmentsList: 10, DERProgramList: 10 },
  });
  sep2Server.handler.createProgram({ primacy: 1, description: 'demo DOE', defaultControl: { opModImpLimW: 50_000, opModLoadLimW: 50_000, setGradW: 1000 } });
  sep2Server.handler.createControl({ primacy: 1, startInS: 60, duration: 120, opModImpLimW: 7_000, description: 'demo import limit' });

  const meter = parseMeterConfig({
    name: 'meter', evse_id: 'DE*CHC*E1', ip_address: '127.0.0.1', port: meterSimulator.port,
    ...(options.warmupMs !== undefined ? { warmup_ms: options.warmupMs } : {}),
  });
  const registration = parseRegistrationConfig({
    server: { url: sep2Server.url }, mode: 'device', pin: 111115,
    device: { name: 'charger', nmi: '4103861111', der: { type: 82, rtgMaxW: 50_000, settings: { setMaxW: 50_000 }, status: { genConnectStatus: 1 } } },
  });
  if (!meter.ok || !registration.ok) throw new Error('the embedded demo config is invalid');

  // The command token is a secret: it goes to a 0600 file, never to the log.
  await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
  const tokenFile = join(options.stateDir, 'feed-token');
  const token = process.env.CHARGER_FEED_TOKEN ?? randomBytes(24).toString('base64url');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });

  const config: ControllerConfig = {
    meters: [meter.value],
    registration: registration.value as RegistrationConfig,
    feed: { host: '127.0.0.1', port: options.feedPort, token, allow_read_only: true, max_payload_bytes: 64 * 1024, max_command_bytes: 16 * 1024, max_buffered_bytes: 1024 * 1024, heartbeat_ms: 15_000 },
    stateDir: options.stateDir,
    log: { level: 'info' },
  };
  return {
    config, meterSimulator, sep2Server, tokenFile,
    registrationTls: { certPem: device.chainPem, keyPem: device.keyPem, caPem: pki.sercaPem },
    async close() {
      await Promise.all([meterSimulator.close(), sep2Server.close()]);
    },
  };
}
