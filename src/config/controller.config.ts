/**
 * The controller's config file (JSON or YAML): the meters (one per EVSE), optional 2030.5 registration, the
 * WebSocket feed, the state directory and logging; or an EVerest config file, whose LemDCBM400600 modules become
 * the meters (everest.config.ts). Every problem in the file is reported at once, each with its path
 * (`meters.1.port: ...`): a typo in one section never hides the problems of another. Secrets can come from the
 * environment: `CHARGER_FEED_TOKEN` sets `feed.token`. Loading with `{files: true}` also reads and checks every file
 * the config names (config-files.ts), so that `run` and `config check` find the same problems before connecting.
 */
import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { ConfigError } from './config-error.js';
import type { ConfigFiles } from './config-files.js';
import { check, formatProblem, isRecord, unknownKeyMessage, type Problem } from './config-problems.js';
import { everestModules, LEM_MODULE } from './everest.config.js';
import { checkMeterEntry, MeterConfigSchema, type MeterConfig } from './meter.config.js';
import { checkRegistrationConfig, type RegistrationConfig } from './registration.config.js';

export { ConfigError } from './config-error.js';

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const MAX_METERS = 16;

const FeedSchema = v.strictObject({
  host: v.optional(v.pipe(v.string(), v.minLength(1)), '127.0.0.1'),
  port: v.optional(int(0, 65535), 8787),
  /** Needed for commands; prefer the CHARGER_FEED_TOKEN environment variable. At least 16 characters. */
  token: v.optional(v.pipe(v.string(), v.minLength(16, 'feed.token must have at least 16 characters'))),
  allow_read_only: v.optional(v.boolean(), false),
  max_payload_bytes: v.optional(int(1024, 16 * 1024 * 1024), 64 * 1024),
  max_command_bytes: v.optional(int(256, 1024 * 1024), 16 * 1024),
  max_buffered_bytes: v.optional(int(1024, 256 * 1024 * 1024), 1024 * 1024),
  heartbeat_ms: v.optional(int(100, 600_000), 15_000),
});
export type FeedConfig = v.InferOutput<typeof FeedSchema>;

const LogSchema = v.optional(v.strictObject({ level: v.optional(v.picklist(['trace', 'debug', 'info', 'warn', 'error', 'fatal']), 'info') }), {});
/** Where the controller keeps what must survive a restart (pending stops, the feed token of the demo). */
const StateDirSchema = v.optional(v.pipe(v.string(), v.minLength(1)), '.charger-controller');

/** The top-level keys: this controller's, and an EVerest config file's (`settings`, `x-module-layout` are ignored). */
const TOP_KEYS = ['meters', 'registration', 'feed', 'state_dir', 'log', 'active_modules', 'settings', 'x-module-layout'];
const METER_KEYS = Object.keys(MeterConfigSchema.entries);

export interface ControllerConfig {
  meters: MeterConfig[];
  registration: RegistrationConfig | undefined;
  feed: FeedConfig;
  stateDir: string;
  log: { level: string };
  /** Info lines for the log and `config check`: the EVerest modules and sections that were ignored. */
  notes?: string[] | undefined;
  /** Parallel to `meters`: where each meter's `meter_tls_certificate` key is in the file. */
  meterCertificateKeys?: string[] | undefined;
  /** Every file the config names, read and checked once (config-files.ts); absent until then. */
  files?: ConfigFiles | undefined;
}

function topLevelUnknown(key: string): string {
  if (METER_KEYS.includes(key)) return `unknown key; \`${key}\` is a meter setting: put it in an entry under \`meters:\``;
  return unknownKeyMessage(key, TOP_KEYS.filter((k) => k !== 'x-module-layout'));
}

/** The name a meter entry asks for, read before it is validated (so that duplicates are found among broken entries too). */
function requestedName(entry: unknown, defaultName: string | undefined): string | undefined {
  if (!isRecord(entry) || ('module' in entry && entry.module !== LEM_MODULE)) return undefined;
  const settings = isRecord(entry.config_module) ? entry.config_module
    : isRecord(entry.config_implementation) && isRecord(entry.config_implementation.main) ? entry.config_implementation.main : entry;
  const name = entry.name ?? settings.name;
  return typeof name === 'string' ? name : defaultName ?? 'meter';
}

export function parseControllerConfig(input: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  if (!isRecord(input)) {
    throw new ConfigError(source, [`the config must be a mapping with \`meters:\` (or an EVerest config with \`active_modules:\`), got ${Array.isArray(input) ? 'a list' : JSON.stringify(input) ?? 'nothing'}`]);
  }
  const problems: Problem[] = [];
  const notes: string[] = [];
  for (const key of Object.keys(input)) {
    if (!TOP_KEYS.includes(key) && !key.startsWith('x-')) problems.push({ path: [key], message: topLevelUnknown(key) });
  }
  if (input.settings !== undefined) notes.push('EVerest `settings` ignored (they configure the EVerest manager)');

  let feedInput = input.feed;
  if (env.CHARGER_FEED_TOKEN && (feedInput === undefined || isRecord(feedInput))) feedInput = { ...feedInput, token: env.CHARGER_FEED_TOKEN };
  const feed = check(v.optional(FeedSchema, {}), feedInput, ['feed']);
  const log = check(LogSchema, input.log, ['log']);
  const stateDir = check(StateDirSchema, input.state_dir, ['state_dir']);
  for (const section of [feed, log, stateDir]) if (!section.ok) problems.push(...section.problems);

  // ---- meters: the `meters` list and the LemDCBM400600 modules of an EVerest `active_modules` ----
  const entries: { input: unknown; path: (string | number)[]; defaultName?: string }[] = [];
  if (input.meters !== undefined) {
    if (Array.isArray(input.meters)) input.meters.forEach((entry, i) => entries.push({ input: entry, path: ['meters', i] }));
    else problems.push({ path: ['meters'], message: 'must be a list of meters (each a mapping with ip_address, ...)' });
  }
  if (input.active_modules !== undefined) {
    const modules = everestModules(input.active_modules, ['active_modules']);
    problems.push(...modules.problems);
    for (const { id, entry } of modules.meters) entries.push({ input: entry, path: ['active_modules', id], defaultName: id });
    if (modules.ignored.length) notes.push(`EVerest modules ignored (not ${LEM_MODULE}): ${modules.ignored.join(', ')}`);
    if (!modules.meters.length && !modules.problems.length && input.meters === undefined) {
      problems.push({ path: ['active_modules'], message: `no ${LEM_MODULE} module${modules.ignored.length ? ` (found ${modules.ignored.join(', ')})` : ''}: at least one meter is required` });
    }
  } else if (input.meters === undefined) {
    problems.push({ path: ['meters'], message: `required: at least one meter (or give an EVerest config whose active_modules include a ${LEM_MODULE} module)` });
  } else if (Array.isArray(input.meters) && input.meters.length === 0) {
    problems.push({ path: ['meters'], message: 'at least one meter is required' });
  }
  if (entries.length > MAX_METERS) problems.push({ path: ['meters'], message: `at most ${MAX_METERS} meters (got ${entries.length})` });

  const meters: MeterConfig[] = [];
  const meterCertificateKeys: string[] = [];
  for (const entry of entries) {
    const checked = checkMeterEntry(entry.input, entry.path, entry.defaultName);
    if (checked.ok) {
      meters.push(checked.meter.value);
      meterCertificateKeys.push(checked.meter.keyPath('meter_tls_certificate').join('.'));
    } else {
      problems.push(...checked.problems);
    }
  }
  const byName = new Map<string, string[]>();
  for (const entry of entries) {
    const name = requestedName(entry.input, entry.defaultName);
    if (name === undefined) continue;
    byName.set(name, [...(byName.get(name) ?? []), entry.path.join('.')]);
  }
  for (const [name, paths] of byName) {
    if (paths.length < 2) continue;
    const shown = paths.length === 2 ? `${paths[0]} and ${paths[1]}` : `${paths.slice(0, -1).join(', ')} and ${paths.at(-1)}`;
    problems.push({ path: [], message: `${shown} are ${paths.length === 2 ? 'both' : 'all'} named "${name}"${name === 'meter' ? ' (the default name)' : ''}: give each meter its own \`name\`` });
  }

  // ---- registration ----
  let registration: RegistrationConfig | undefined;
  if (input.registration !== undefined) {
    const checked = checkRegistrationConfig(input.registration, ['registration']);
    if (!checked.ok) problems.push(...checked.problems);
    else if (!checked.value.tls) {
      problems.push({ path: ['registration', 'tls'], message: 'required by run: mutual TLS needs { certificate, key, ca } (PEM files: the client certificate chain, its key, the server\'s CA)' });
    } else {
      registration = checked.value;
    }
    const names = new Set(meters.map((m) => m.name));
    const sites = checked.ok ? [...(checked.value.device ? [['device', checked.value.device] as const] : []), ...(checked.value.sites ?? []).map((site, i) => [i, site] as const)] : [];
    for (const [key, site] of sites) {
      const at = key === 'device' ? ['registration', 'device'] : ['registration', 'sites', key];
      for (const name of [...(site.meters ?? []), ...(site.siteMeter ? [site.siteMeter] : [])]) {
        if (!names.has(name)) problems.push({ path: [...at, site.meters?.includes(name) ? 'meters' : 'siteMeter'], message: `no meter is named "${name}"; meters: ${[...names].join(', ') || 'none'}` });
      }
      if (site.siteMeter && site.meters?.includes(site.siteMeter)) problems.push({ path: [...at, 'siteMeter'], message: `"${site.siteMeter}" is the site meter and cannot also be one of the site's EVSE meters` });
    }
  }

  if (problems.length || !feed.ok || !log.ok || !stateDir.ok) throw new ConfigError(source, problems.map(formatProblem));
  return {
    meters, registration, feed: feed.value, stateDir: stateDir.value, log: { level: log.value.level ?? 'info' },
    ...(notes.length ? { notes } : {}), meterCertificateKeys,
  };
}

/** JSON by default; YAML for `.yaml`/`.yml`, or when the text is not JSON. The YAML parser is loaded only then. */
async function parseText(path: string, text: string): Promise<unknown> {
  const yamlByName = /\.ya?ml$/i.test(path);
  if (!yamlByName) {
    try {
      return JSON.parse(text);
    } catch (error) {
      if (/\.json$/i.test(path)) throw new ConfigError(path, [`not valid JSON: ${(error as Error).message}`]);
    }
  }
  const { parse } = await import('yaml');
  try {
    return parse(text);
  } catch (error) {
    throw new ConfigError(path, [`not valid ${yamlByName ? 'YAML' : 'JSON or YAML'}: ${(error as Error).message}`]);
  }
}

/**
 * Reads a config file (JSON, or YAML by its `.yaml`/`.yml` extension or its content) and validates it. With
 * `files`, every file it names is read and checked too (meter certificates given as paths are then inlined).
 */
export async function loadControllerConfig(
  path: string, env: NodeJS.ProcessEnv = process.env, options: { files?: boolean; /** `--state-dir`: checked instead of state_dir */ stateDir?: string | undefined } = {},
): Promise<ControllerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read the file: ${(error as Error).message}`]);
  }
  const config = parseControllerConfig(await parseText(path, text), path, env);
  if (!options.files) return config;
  const { resolveConfigFiles } = await import('./config-files.js');
  return resolveConfigFiles(config, path, options.stateDir);
}
