/**
 * The controller's config file: a list of meters (one per EVSE) and logging. Loaded from JSON; every problem in
 * the file is reported at once, each with its path (`meters.1.port: ...`).
 */
import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { issueLines } from '../domain/validation.js';
import { parseMeterConfig, type MeterConfig } from './meter.config.js';

const FileSchema = v.strictObject({
  meters: v.pipe(v.array(v.unknown()), v.minLength(1, 'at least one meter is required'), v.maxLength(16)),
  log: v.optional(v.strictObject({ level: v.optional(v.picklist(['trace', 'debug', 'info', 'warn', 'error', 'fatal']), 'info') }), {}),
});

export interface ControllerConfig {
  meters: MeterConfig[];
  log: { level: string };
}

export class ConfigError extends Error {
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source} is not a valid config:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function parseControllerConfig(input: unknown, source = 'config'): ControllerConfig {
  const file = v.safeParse(FileSchema, input);
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
  if (problems.length) throw new ConfigError(source, problems);
  return { meters, log: { level: file.output.log.level ?? 'info' } };
}

export async function loadControllerConfig(path: string): Promise<ControllerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read the file: ${(error as Error).message}`]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [`not valid JSON: ${(error as Error).message}`]);
  }
  return parseControllerConfig(value, path);
}
