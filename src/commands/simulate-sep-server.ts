/** `charger-controller simulate sep-server`: runs the IEEE 2030.5 / CSIP-AUS test server until SIGINT/SIGTERM. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { certificateIdentity } from '../adapters/sep2/identity.js';
import { createLogger } from '../logger.js';
import { createSep2Pki } from '../pki/sep2-pki.js';
import { startSep2Server, type Sep2ServerStartOptions } from '../simulators/sep2-server/index.js';
import { choiceOption, integerOption, parseOptions, untilSignal, UsageError } from './args.js';

export const SIMULATE_SEP_SERVER_HELP = `Usage: charger-controller simulate sep-server [options]

Runs the IEEE 2030.5 / CSIP-AUS test server: DeviceCapability, EndDeviceList/EndDevice (POST), Registration,
DeviceInformation, DERList/DER with DERCapability/DERSettings/DERStatus, the CSIP-AUS ConnectionPoint and Time,
DER programs (FunctionSetAssignments, DERProgram, DefaultDERControl, DERControlList, ActiveDERControlList) and
DERControlResponses, as an envoy-style CSIP-AUS server or as the server the envoy-client README describes.

With --admin-port an admin API (JSON, loopback only) creates programs and controls, cancels and supersedes them,
sets defaults and poll rates, takes the server off the network (POST /_sim/connections/refuse {"ms": n}), answers
every request with 500 (PUT /_sim/communications {"enabled": false}) and lists the recorded responses
(GET /_sim/responses). GET /_sim/state shows everything.

With --profile seed it also accepts envoy-client 0.1.1's non-standard requests (no namespace, application/xml,
decimal hex fields, 0x LFDIs, its SFDI algorithm, schema-order and ConnectionPoint deviations) and prints one
warning per deviation on stderr, naming the IEEE 2030.5 / CSIP-AUS rule it breaks. The envoy profile rejects them.

With --state-dir it serves mutual TLS 1.2 (ECDHE-ECDSA-AES128-CCM8) and writes a test PKI there on first start:
serca.pem (trust anchor), server-*.pem, and a device certificate client-chain.pem / client-key.pem to register
with. Without it, it serves plain HTTP and reads the client identity from the x-forwarded-client-cert header.

Options:
  --host <addr>             address to bind (default 127.0.0.1)
  --port <n>                port (default 8443; 0 = any free port)
  --profile <envoy|seed>    server behaviour (default envoy)
  --state-dir <dir>         serve mTLS with the test PKI kept in this folder
  --href-prefix <path>      prefix of every href (e.g. /envoy-svc-static-36)
  --opaque-ids              ids like _EQLDEV1 instead of numbers
  --csipaus <1.2|1.3|none>  CSIP-AUS namespace (default: envoy 1.2, seed none)
  --pin <5 digits>          registration PIN before its check digit (default 11111 → 111115)
  --aggregator-lfdi <hex>   treat this client LFDI as an aggregator certificate (repeatable)
  --poll-rate <s>           pollRate of the DeviceCapability, lists and Registration (default 60)
  --admin-port <n>          serve the admin API on 127.0.0.1:<n> (0 = any free port)
  --log-level <level>       debug logs every request (default info)
  -h, --help                show this help
`;

async function pkiFiles(dir: string): Promise<NonNullable<Sep2ServerStartOptions['tls']> & { clientLfdi: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string): string => join(dir, name);
  const read = (name: string) => readFile(file(name), 'utf8').catch(() => undefined);
  let [caPem, certPem, keyPem, clientChain] = await Promise.all([read('serca.pem'), read('server-cert.pem'), read('server-key.pem'), read('client-chain.pem')]);
  if (!caPem || !certPem || !keyPem || !clientChain) {
    const pki = createSep2Pki('charger-controller simulator');
    const server = pki.issueServer(['127.0.0.1', 'localhost']);
    const client = pki.issueDevice('SIMULATED-CHARGER');
    await writeFile(file('serca.pem'), pki.sercaPem);
    await writeFile(file('server-cert.pem'), server.certPem);
    await writeFile(file('server-key.pem'), server.keyPem, { mode: 0o600 });
    await writeFile(file('client-chain.pem'), client.chainPem);
    await writeFile(file('client-key.pem'), client.keyPem, { mode: 0o600 });
    [caPem, certPem, keyPem, clientChain] = [pki.sercaPem, server.certPem, server.keyPem, client.chainPem];
  }
  return { caPem, certPem, keyPem, clientLfdi: certificateIdentity(clientChain).lfdi };
}

export async function simulateSepServer(args: string[]): Promise<number> {
  const o = parseOptions(args, {
    host: { type: 'string' }, port: { type: 'string' }, profile: { type: 'string' }, 'state-dir': { type: 'string' },
    'href-prefix': { type: 'string' }, 'opaque-ids': { type: 'boolean' }, csipaus: { type: 'string' }, pin: { type: 'string' },
    'aggregator-lfdi': { type: 'string', multiple: true }, 'poll-rate': { type: 'string' }, 'admin-port': { type: 'string' },
    'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (o.help) {
    process.stdout.write(SIMULATE_SEP_SERVER_HELP);
    return 0;
  }
  const profile = choiceOption('profile', o.profile, ['envoy', 'seed'] as const) ?? 'envoy';
  const csipaus = choiceOption('csipaus', o.csipaus, ['1.2', '1.3', 'none'] as const);
  if (o['href-prefix'] !== undefined && !o['href-prefix'].startsWith('/')) throw new UsageError('--href-prefix must start with "/"');
  const tls = o['state-dir'] ? await pkiFiles(o['state-dir']) : undefined;
  const log = createLogger({ name: 'sep2-test-server', level: o['log-level'] });
  const server = await startSep2Server({
    profile,
    host: o.host ?? '127.0.0.1',
    port: integerOption('port', o.port, 0, 65535) ?? 8443,
    ...(tls ? { tls: { caPem: tls.caPem, certPem: tls.certPem, keyPem: tls.keyPem } } : {}),
    ...(o['href-prefix'] ? { hrefPrefix: o['href-prefix'] } : {}),
    ...(o['opaque-ids'] ? { opaqueIds: true } : {}),
    ...(csipaus ? { csipaus: csipaus === 'none' ? null : csipaus } : {}),
    ...(o.pin !== undefined ? { pin: integerOption('pin', o.pin, 0, 99_999)! } : {}),
    ...(o['aggregator-lfdi']?.length ? { aggregators: o['aggregator-lfdi'] } : {}),
    ...(o['poll-rate'] !== undefined ? { pollRate: integerOption('poll-rate', o['poll-rate'], 0, 0xffff_ffff)! } : {}),
    ...(o['admin-port'] !== undefined ? { adminPort: integerOption('admin-port', o['admin-port'], 0, 65535)! } : {}),
    onWarning: (warning) => void process.stderr.write(`warning: ${warning.method} ${warning.path}: ${warning.message}\n`),
  });
  log.info({
    url: server.url, admin: server.adminUrl ?? 'off', profile, mtls: Boolean(tls), pkiDir: o['state-dir'] ?? null, clientLfdi: tls?.clientLfdi ?? null,
  }, '2030.5 test server listening');
  const signal = await untilSignal();
  log.info({ signal, requests: server.requests.length }, 'stopping the 2030.5 test server');
  await server.close();
  return 0;
}
