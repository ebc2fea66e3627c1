/** `charger-controller register`: registers the charger (or an aggregator's sites) with a 2030.5 server. */
import { readFile } from 'node:fs/promises';
import { certificateIdentity } from '../adapters/sep2/identity.js';
import { createMockFetch, formatPrintedRequest } from '../adapters/sep2/mock-transport.js';
import { registerSites, type SiteOutcome } from '../adapters/sep2/registration.service.js';
import { Sep2Client } from '../adapters/sep2/sep2.client.js';
import { ConfigError } from '../config/controller.config.js';
import { parseRegistrationConfig, registrationPolicy, registrationSites, siteLfdi, type RegistrationConfig } from '../config/registration.config.js';
import { createSep2Handler } from '../simulators/sep2-server/handler.js';
import type { SiteRegistration } from '../../machines/registration/registration.types.js';
import { choiceOption, parseOptions, UsageError } from './args.js';

export const REGISTER_HELP = `Usage: charger-controller register --config <file> [--mock [--profile seed|envoy]]

Registers with an IEEE 2030.5 / CSIP-AUS server: finds the EndDevice by LFDI (or creates it), checks the
registration PIN, then writes DeviceInformation, DERCapability / DERSettings / DERStatus and the ConnectionPoint.
In device mode the LFDI comes from the client certificate; in aggregator mode every site has its own LFDI.

A transient failure (no connection, 5xx, 429) is retried with back-off, honouring Retry-After, up to
policy.maxAttempts (default 5 here; the controller itself never gives up). A configured step the server offers
no link for is skipped with a warning.

Options:
  --config <file>        registration config (JSON); see src/config/examples/seed-example.json and the README
  --mock                 send nothing: print every request (method, URL, headers, body) against an in-process
                         test server, as envoy-client's mock mode does
  --profile <p>          mock server profile: seed (DeviceInformation PUT, DER POST; default) or envoy (CSIP-AUS)
  --now <unix seconds>   time written into changedTime etc. in mock mode (default 1700000000, for stable output)
  -h, --help             show this help
`;

const MOCK_AGGREGATOR_LFDI = 'A0000000000000000000000000000000000000A0';

async function loadConfig(path: string): Promise<RegistrationConfig> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(path, [(error as Error).message]);
  }
  const parsed = parseRegistrationConfig(value);
  if (!parsed.ok) throw new ConfigError(path, parsed.problems);
  return parsed.value;
}

function summary(outcomes: SiteOutcome[], timings: boolean): string {
  const ms = (o: SiteOutcome): string => (timings ? `  (${o.ms} ms)` : '');
  const lines = outcomes.flatMap((o) => (o.ok
    ? [`  registered  ${o.site}  ${o.lfdi}  ${o.endDevice}${o.der ? `  DER ${o.der}` : ''}${ms(o)}`, ...o.skipped.map((k) => `      warning: ${k.step} skipped: ${k.reason}`)]
    : [`  FAILED      ${o.site}  ${o.lfdi}  ${o.failure.code} at ${o.failure.step}: ${o.failure.message}${o.failure.reasonCode !== undefined ? ` [reasonCode ${o.failure.reasonCode}${o.failure.serverMessage ? `: ${o.failure.serverMessage}` : ''}]` : ''}`]));
  const ok = outcomes.filter((o) => o.ok).length;
  const warnings = outcomes.reduce((n, o) => n + (o.ok ? o.skipped.length : 0), 0);
  return `\nSummary: ${ok} registered, ${outcomes.length - ok} failed, ${outcomes.length} sites${warnings ? `, ${warnings} steps skipped (warnings below)` : ''}\n${lines.join('\n')}\n`;
}

export async function register(args: string[]): Promise<number> {
  const o = parseOptions(args, { config: { type: 'string' }, mock: { type: 'boolean' }, profile: { type: 'string' }, now: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (o.help) {
    process.stdout.write(REGISTER_HELP);
    return 0;
  }
  if (!o.config) throw new UsageError('--config <file> is required');
  const config = await loadConfig(o.config);
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const warn = (line: string): void => void process.stderr.write(`warning: ${line}\n`);
  // A one-shot command gives up on an unreachable server (the controller never does).
  const policy = { ...registrationPolicy(config), maxAttempts: config.policy.maxAttempts ?? 5 };
  let client: Sep2Client;
  let deviceLfdi: string | undefined;
  let wallClock: (() => number) | undefined;

  if (o.mock) {
    const profile = choiceOption('profile', o.profile, ['seed', 'envoy'] as const) ?? 'seed';
    const now = o.now === undefined ? 1_700_000_000 : Number(o.now);
    if (!Number.isInteger(now) || now < 0) throw new UsageError(`--now must be Unix seconds, got "${o.now}"`);
    wallClock = () => now * 1000;
    deviceLfdi = config.tls ? certificateIdentity(await readFile(config.tls.certificate, 'utf8')).lfdi : config.device?.lfdi ? siteLfdi(config.device.lfdi).lfdi : undefined;
    const clientLfdi = config.mode === 'aggregator' ? MOCK_AGGREGATOR_LFDI : deviceLfdi ?? MOCK_AGGREGATOR_LFDI;
    const handler = createSep2Handler({ profile, ...(config.mode === 'aggregator' ? { aggregators: [clientLfdi] } : {}), now: wallClock });
    out(`# mock mode: nothing is sent; requests go to an in-process ${profile}-profile 2030.5 server at ${config.server.url}`);
    client = new Sep2Client({ baseUrl: config.server.url, fetch: createMockFetch(handler, clientLfdi, (r) => out(formatPrintedRequest(r))) });
  } else {
    if (!config.tls) throw new UsageError('real mode needs tls.certificate, tls.key and tls.ca in the config (mutual TLS); use --mock to print the requests instead');
    const [certPem, keyPem, caPem] = await Promise.all([config.tls.certificate, config.tls.key, config.tls.ca].map((f) => readFile(f, 'utf8')));
    deviceLfdi = certificateIdentity(certPem!).lfdi;
    out(`# client certificate LFDI ${deviceLfdi}`);
    client = new Sep2Client({ baseUrl: config.server.url, tls: { certPem: certPem!, keyPem: keyPem!, caPem: caPem! }, timeoutMs: config.server.timeoutMs });
  }

  let sites: SiteRegistration[];
  try {
    sites = registrationSites(config, deviceLfdi, warn);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const progress = (line: string): void => void (o.mock ? undefined : process.stderr.write(`${line}\n`));
  try {
    const outcomes = await registerSites(sites, {
      client, policy, concurrency: config.policy.concurrency ?? 8, ...(wallClock ? { wallClock } : {}),
      onEvent: (e) => {
        if (e.type === 'progress') progress(`[${e.site}] ${e.step}${e.detail ? `: ${e.detail}` : ''}`);
        else if (e.type === 'retrying') progress(`[${e.site}] ${e.step}: retry ${e.attempt} in ${e.delayMs} ms (${e.reason})`);
        else if (e.type === 'skipped') warn(`[${e.site}] ${e.step} skipped: ${e.reason}`);
      },
    });
    out(summary(outcomes, !o.mock)); // mock output stays byte-stable
    return outcomes.every((x) => x.ok) ? 0 : 1;
  } finally {
    await client.close();
  }
}
