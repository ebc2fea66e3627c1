/**
 * Configuration of one LEM DCBM meter: every key of the EVerest `LemDCBM400600` manifest with the same defaults
 * and ranges (reference §4.1), plus this controller's own keys (name, EVSE id, API version, cadence, warm-up).
 * An EVerest module entry can be pasted as it is (`{module: LemDCBM400600, config_module: {...}}`, see
 * everest.config.ts). `meter_tls_certificate` is the meter's PEM text, as in EVerest, or the path of a PEM file
 * (read by config-files.ts); PEM text is checked here, a file when the config's files are loaded.
 */
import * as v from 'valibot';
import { DEFAULT_DST, DstRuleSchema, type DstRule } from '../domain/dst.js';
import { parseUtcOffset } from '../domain/local-time.js';
import { pinCertificate } from '../adapters/http/pinned-tls.js';
import { check, formatProblem, isRecord, type Problem } from './config-problems.js';
import { everestMeterSettings, isEverestModuleEntry } from './everest.config.js';

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const port = int(1, 65535);
/** EVerest's bring-up configs write port 0 next to an empty NTP address; a configured address needs 1..65535. */
const ntpPort = int(0, 65535);

/** `meter_dst` as an object, or as the raw JSON string EVerest configs carry; "" means "do not write a DST rule". */
const DstSetting = v.union([
  DstRuleSchema,
  v.pipe(
    v.string(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const text = dataset.value.trim();
      if (text === '') return null;
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        addIssue({ message: `meter_dst is not valid JSON: ${(error as Error).message}` });
        return NEVER;
      }
    }),
    v.nullable(DstRuleSchema),
  ),
]);

export const MeterConfigSchema = v.strictObject({
  // ---- this controller's own keys ----
  /** Name used on the feed and in commands, unique per process. */
  name: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,32}$/, 'name must be 1–32 letters, digits, "_", "." or "-"')), 'meter'),
  /** EVSE (connector) this meter measures. */
  evse_id: v.optional(v.pipe(v.string(), v.maxLength(37)), ''),
  /** `auto` decides v1/v2 from the firmware version (numerically; reference §2.3). */
  api_version: v.optional(v.picklist(['auto', 'v1', 'v2']), 'auto'),
  reading_interval_ms: v.optional(int(100, 60_000), 1000),
  /** Settings writes are unreliable this long after init (COMMPROT §4); shorten only for demos and tests. */
  warmup_ms: v.optional(int(0, 600_000), 120_000),

  // ---- EVerest LemDCBM400600 manifest keys ----
  ip_address: v.pipe(v.string(), v.minLength(1, 'ip_address is required'), v.maxLength(253)),
  port: v.optional(port, 80),
  interface: v.optional(v.string(), ''),
  /** The meter's PEM certificate text (pinned HTTPS), or the path of a file holding it; "" = plain HTTP. */
  meter_tls_certificate: v.optional(v.string(), ''),
  ntp_server_1_ip_addr: v.optional(v.string(), ''),
  ntp_server_1_port: v.optional(ntpPort, 123),
  ntp_server_2_ip_addr: v.optional(v.string(), ''),
  ntp_server_2_port: v.optional(ntpPort, 123),
  meter_timezone: v.optional(v.pipe(v.string(), v.check((s) => parseUtcOffset(s) !== undefined, 'meter_timezone must be ±HH:MM within −11:00..+14:00, minutes 00/15/30/45')), '+00:00'),
  meter_dst: v.optional(DstSetting, DEFAULT_DST),
  resilience_initial_connection_retries: v.optional(int(0, 10_000), 25),
  resilience_initial_connection_retry_delay: v.optional(int(0, 3_600_000), 10_000),
  resilience_transaction_request_retries: v.optional(int(0, 100), 3),
  resilience_transaction_request_retry_delay: v.optional(int(0, 60_000), 250),
  cable_id: v.optional(int(0, 7), 0),
  tariff_id: v.optional(int(0, 4), 0),
  IT: v.optional(int(-1, 17), -1),
  SC: v.optional(int(0, 255), 0),
  UV: v.optional(v.pipe(v.string(), v.maxLength(64)), ''),
  UD: v.optional(v.pipe(v.string(), v.maxLength(128)), ''),
  temperature_warning_level_C: v.optional(v.number(), 5000),
  temperature_error_level_C: v.optional(v.number(), 5000),
  temperature_hysteresis_K: v.optional(v.pipe(v.number(), v.minValue(0)), 3),
  temperature_min_time_as_valid_ms: v.optional(int(0, 3_600_000), 5000),
  command_timeout_ms: v.optional(int(1000, 20_000), 5000),
});

export type MeterConfigInput = v.InferInput<typeof MeterConfigSchema>;
export type MeterConfig = Omit<v.InferOutput<typeof MeterConfigSchema>, 'meter_dst'> & { meter_dst: DstRule | null };


export type ParseResult<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/** What `meter_tls_certificate` holds: nothing (plain HTTP), PEM text, or a file path. */
export type CertificateSetting = { kind: 'none' } | { kind: 'pem'; pem: string } | { kind: 'file'; path: string };

/** "not a PEM certificate: ..." in words, without OpenSSL's error codes. */
export function certificateProblem(error: unknown): string {
  const message = (error as Error).message;
  if (message.startsWith('not a PEM certificate')) return message;
  return `not a valid PEM certificate: it does not parse (${message.replace(/^error:[0-9A-F]+:[^:]*::?/i, '')})`;
}

export function certificateSetting(value: string): CertificateSetting {
  const text = value.trim();
  if (text === '') return { kind: 'none' };
  return text.includes('-----BEGIN') ? { kind: 'pem', pem: value } : { kind: 'file', path: text };
}

/** A checked meter, with where in the file its keys are (for problems found later, such as a missing file). */
export interface CheckedMeter {
  value: MeterConfig;
  /** The path of a key in the file, e.g. `active_modules.lem.config_module.meter_tls_certificate`. */
  keyPath(key: string): (string | number)[];
}

/**
 * Checks one meter entry (a plain settings map or an EVerest module entry) found at `path`, reporting every problem
 * with its full path. `defaultName` names the meter when the entry does not (an EVerest module id).
 */
export function checkMeterEntry(input: unknown, path: readonly (string | number)[], defaultName?: string):
  { ok: true; meter: CheckedMeter } | { ok: false; problems: Problem[] } {
  if (!isRecord(input)) return { ok: false, problems: [{ path, message: 'a meter must be a mapping of settings (ip_address, port, ...)' }] };
  const problems: Problem[] = [];
  let settings: Record<string, unknown> = input;
  let keyPath = (key: string): (string | number)[] => [...path, key];
  if (isEverestModuleEntry(input)) {
    const everest = everestMeterSettings(input, path);
    problems.push(...everest.problems);
    if (!everest.settings) return { ok: false, problems };
    settings = everest.settings;
    keyPath = everest.keyPath;
  }
  const named = defaultName !== undefined && settings.name === undefined ? { ...settings, name: defaultName } : settings;
  const result = check(MeterConfigSchema, named);
  const relocate = (p: Problem): Problem => {
    const [first, ...rest] = p.path;
    if (first === 'name' && settings.name === undefined && defaultName !== undefined) {
      return { path, message: `the module id "${defaultName}" names the meter, and ${p.message}; set \`name\` in the entry` };
    }
    return { path: first === undefined ? path : [...keyPath(String(first)), ...rest], message: p.message };
  };
  if (!result.ok) problems.push(...result.problems.map(relocate));
  // Checks across keys, and of the certificate text, also when other keys are wrong (every problem at once).
  for (const n of [1, 2] as const) {
    const address = settings[`ntp_server_${n}_ip_addr`];
    if (typeof address === 'string' && address !== '' && settings[`ntp_server_${n}_port`] === 0) {
      problems.push({ path: keyPath(`ntp_server_${n}_port`), message: `must be 1..65535 when ntp_server_${n}_ip_addr is set (got 0)` });
    }
  }
  const certificate = typeof settings.meter_tls_certificate === 'string' ? certificateSetting(settings.meter_tls_certificate) : { kind: 'none' as const };
  if (certificate.kind === 'pem') {
    try {
      pinCertificate(certificate.pem);
    } catch (error) {
      problems.push({ path: keyPath('meter_tls_certificate'), message: `${certificateProblem(error)} (give the meter's PEM text, or the path of a file holding it)` });
    }
  }
  if (problems.length || !result.ok) return { ok: false, problems };
  const value = result.value as MeterConfig;
  // "raised to the warning level if configured lower" (reference §4.1)
  if (value.temperature_error_level_C < value.temperature_warning_level_C) value.temperature_error_level_C = value.temperature_warning_level_C;
  return { ok: true, meter: { value, keyPath } };
}

/** Validates a meter config (or an EVerest module entry) and reports every problem at once, each as `key: message`. */
export function parseMeterConfig(input: unknown, options: { name?: string } = {}): ParseResult<MeterConfig> {
  const result = checkMeterEntry(input, [], options.name);
  return result.ok ? { ok: true, value: result.meter.value } : { ok: false, problems: result.problems.map(formatProblem) };
}
