/** `charger-controller simulate meter`: runs a simulated LEM DCBM 400/600 until SIGINT/SIGTERM. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../logger.js';
import { createSelfSignedRsa } from '../pki/certificate.js';
import { DeviceKeys } from '../simulators/lem-dcbm/keys.js';
import { startMeterSimulator } from '../simulators/lem-dcbm/index.js';
import { choiceOption, integerOption, parseOptions, untilSignal, UsageError } from './args.js';

export const SIMULATE_METER_HELP = `Usage: charger-controller simulate meter [options]

Runs a simulated LEM DCBM 400/600 DC meter: the device's HTTP API (v1, and v2 when the firmware says so),
HTTPS on the same port with a self-signed RSA-1024 certificate, signed OCMF and /legal records, time-sync
validity, transactions, and fault injection through an admin API.

Options:
  --host <addr>              address to bind (default 127.0.0.1)
  --port <n>                 meter port, HTTP or HTTPS (default 8080; 0 = any free port)
  --tls                      start with HTTPS on (as after PUT /v1/settings {"http":{"tls_on":true}})
  --admin-port <n>           serve the admin API (fault injection, request log) on this port
  --meter-id <digits>        meter id (default 1211751603)
  --firmware <a.b.c.d>       application firmware version (default 0.2.4.0; 0.1.x.x is a v1-only meter)
  --api <auto|v1|v2>         which API routes exist (default auto: from the firmware version)
  --state-dir <dir>          keep the TLS certificate and signing key here (created on first start)
  --tls-key <file>           TLS private key (PEM), with --tls-cert
  --tls-cert <file>          TLS certificate (PEM), with --tls-key
  --tls-key-bits <n>         RSA size of a generated TLS key (default 1024, like the real meter)
  --unsynced                 start with an invalid clock (starts are refused until a time sync)
  --early-stop <accept|reject>          stop within 2 minutes of the start (default accept)
  --stop-not-running <reject|record>    stop of an ended transaction (default reject, 409)
  --keep-open-on-power-loss  a reboot leaves a running transaction open instead of closing it
  --charge-power-kw <n>      power drawn during a transaction (default 50)
  --seed <n>                 seed of the measurement ripple (default 1)
  --log-level <level>        trace, debug (logs every request), info, warn, error (default info)
  -h, --help                 show this help
`;

/** Reads what the state dir keeps and creates what is missing; a TLS pair given on the command line is not created there. */
async function loadOrCreate(dir: string | undefined, bits: number, tlsGiven: boolean): Promise<{ tlsKeyPem?: string; tlsCertPem?: string; signingKeyPem?: string }> {
  if (!dir) return {};
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const read = (name: string) => readFile(join(dir, name), 'utf8').catch(() => undefined);
  let [tlsKeyPem, tlsCertPem, signingKeyPem] = await Promise.all([read('tls-key.pem'), read('tls-cert.pem'), read('signing-key.pem')]);
  if (!tlsGiven && (!tlsKeyPem || !tlsCertPem)) {
    ({ keyPem: tlsKeyPem, certPem: tlsCertPem } = createSelfSignedRsa({ commonName: 'LEM DCBM simulator', altNames: ['127.0.0.1'], bits }));
    await writeFile(join(dir, 'tls-key.pem'), tlsKeyPem, { mode: 0o600 });
    await writeFile(join(dir, 'tls-cert.pem'), tlsCertPem);
  }
  if (!signingKeyPem) {
    signingKeyPem = new DeviceKeys().exportPrivateKeyPem();
    await writeFile(join(dir, 'signing-key.pem'), signingKeyPem, { mode: 0o600 });
  }
  return { tlsKeyPem, tlsCertPem, signingKeyPem };
}

export async function simulateMeter(args: string[]): Promise<number> {
  const o = parseOptions(args, {
    host: { type: 'string' }, port: { type: 'string' }, tls: { type: 'boolean' }, 'admin-port': { type: 'string' },
    'meter-id': { type: 'string' }, firmware: { type: 'string' }, api: { type: 'string' }, 'state-dir': { type: 'string' },
    'tls-key': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key-bits': { type: 'string' }, unsynced: { type: 'boolean' },
    'early-stop': { type: 'string' }, 'stop-not-running': { type: 'string' }, 'keep-open-on-power-loss': { type: 'boolean' },
    'charge-power-kw': { type: 'string' }, seed: { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (o.help) {
    process.stdout.write(SIMULATE_METER_HELP);
    return 0;
  }
  if (Boolean(o['tls-key']) !== Boolean(o['tls-cert'])) throw new UsageError('--tls-key and --tls-cert go together');
  const bits = integerOption('tls-key-bits', o['tls-key-bits'], 1024, 8192) ?? 1024;
  const material = o['tls-key'] && o['tls-cert']
    ? { tlsKeyPem: await readFile(o['tls-key'], 'utf8'), tlsCertPem: await readFile(o['tls-cert'], 'utf8'), ...(await loadOrCreate(o['state-dir'], bits, true).then(({ signingKeyPem }) => ({ signingKeyPem }))) }
    : await loadOrCreate(o['state-dir'], bits, false);
  const powerText = o['charge-power-kw'];
  const chargePowerKw = powerText === undefined ? undefined : Number(powerText);
  if (chargePowerKw !== undefined && !(Number.isFinite(chargePowerKw) && chargePowerKw >= 0 && chargePowerKw <= 1000)) {
    throw new UsageError(`--charge-power-kw must be a number from 0 to 1000, got "${powerText}"`);
  }
  const log = createLogger({ name: 'lem-dcbm-simulator', level: o['log-level'] });
  const sim = await startMeterSimulator({
    host: o.host ?? '127.0.0.1',
    port: integerOption('port', o.port, 0, 65535) ?? 8080,
    adminPort: integerOption('admin-port', o['admin-port'], 0, 65535),
    tls: o.tls ?? false,
    tlsKeyBits: bits,
    ...material,
    ...(o['meter-id'] !== undefined ? { meterId: o['meter-id'] } : {}),
    ...(o.firmware !== undefined ? { applicationFirmwareVersion: o.firmware } : {}),
    api: choiceOption('api', o.api, ['auto', 'v1', 'v2'] as const) ?? 'auto',
    timeSynced: !o.unsynced,
    earlyStop: choiceOption('early-stop', o['early-stop'], ['accept', 'reject'] as const) ?? 'accept',
    stopNotRunning: choiceOption('stop-not-running', o['stop-not-running'], ['reject', 'record'] as const) ?? 'reject',
    closeTransactionOnPowerLoss: !o['keep-open-on-power-loss'],
    ...(chargePowerKw !== undefined ? { chargePowerKw } : {}),
    seed: integerOption('seed', o.seed, 0, 2 ** 31) ?? 1,
  });
  sim.requests.onRequest = (r) => log.debug({ method: r.method, url: r.url, tls: r.tls, bytes: r.body.length }, 'request');
  log.info({
    url: sim.url(), admin: sim.adminUrl ?? 'off', meterId: sim.device.options.meterId,
    firmware: sim.device.options.applicationFirmwareVersion, v2: sim.device.apiServed('v2'),
    certificateSha256: new (await import('node:crypto')).X509Certificate(sim.certificatePem).fingerprint256,
  }, 'LEM DCBM simulator listening');
  const signal = await untilSignal();
  log.info({ signal }, 'stopping the LEM DCBM simulator');
  await sim.close();
  return 0;
}
