/**
 * The controller's config file (JSON or YAML): the meters (one per EVSE), optional 2030.5 registration, the
 * WebSocket feed, the state directory and logging. Every problem in the file is reported at once, each with its
 * path (`meters.1.port: ...`). Secrets can come from the environment: `CHARGER_FEED_TOKEN` sets `feed.token`.
 */
import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { parse as parseYaml } from 'yaml';
import { issueLines } from '../domain/validation.js';
import { parseMeterConfig, type MeterConfig } from './meter.config.js';
import { parseRegistrationConfig, type RegistrationConfig } from './registration.config.js';

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

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

const FileSchema = v.strictObject({
  meters: v.pipe(v.array(v.unknown()), v.minLength(1, 'at least one meter is required'), v.maxLength(16)),
  registration: v.optional(v.unknown()),
  feed: v.optional(FeedSchema, {}),
  /** Where the controller keeps what must survive a restart (pending stops, the feed token of the demo). */
  state_dir: v.optional(v.pipe(v.string(), v.minLength(1)), '.charger-controller'),
  log: v.optional(v.strictObject({ level: v.optional(v.picklist(['trace', 'debug', 'info', 'warn', 'error', 'fatal']), 'info') }), {}),
});

export interface ControllerConfig {
  meters: MeterConfig[];
  registration: RegistrationConfig | undefined;
  feed: FeedConfig;
  stateDir: string;
  log: { level: string };
}

export class ConfigError extends Error {
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source} is not a valid config:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function parseControllerConfig(input: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  const withEnv = env.CHARGER_FEED_TOKEN && typeof input === 'object' && input !== null
    ? { ...input, feed: { ...((input as { feed?: object }).feed ?? {}), token: env.CHARGER_FEED_TOKEN } }
    : input;
  const file = v.safeParse(FileSchema, withEnv);
  if (!file.success) throw new ConfigError(source, issueLines(file.issues));
  const problems: string[] = [];
  const meters: MeterConfig[] = [];
  file.output.meters.forEach((entry, index) => {
    const parsed = parseMeterConfig(entry);
    if (parsed.ok) meters.push(parsed.value);
    else problems.push(...parsed.problems.map((p) => `meters.${index}.${p}`));
  });
  const names = meters.map((m) => m.name);
  for (const name of new Set(names.filter((n, i) => names.indexOf(n) !== i))) problems.push(`meters: the name "${name}" is used twice; give each meter its own name`);
  let registration: RegistrationConfig | undefined;
  if (file.output.registration !== undefined) {
    const parsed = parseRegistrationConfig(file.output.registration);
    if (parsed.ok) registration = parsed.value;
    else problems.push(...parsed.problems.map((p) => `registration.${p}`));
  }
  if (problems.length) throw new ConfigError(source, problems);
  return { meters, registration, feed: file.output.feed, stateDir: file.output.state_dir, log: { level: file.output.log.level ?? 'info' } };
}

/** Reads a JSON or YAML (by extension `.yaml`/`.yml`) config file and validates it. */
export async function loadControllerConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<ControllerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read the file: ${(error as Error).message}`]);
  }
  let value: unknown;
  try {
    value = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [`not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(error as Error).message}`]);
  }
  return parseControllerConfig(value, path, env);
}
