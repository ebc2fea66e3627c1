/**
 * Configuration of one LEM DCBM meter: every key of the EVerest `LemDCBM400600` manifest with the same defaults
 * and ranges (reference §4.1), plus this controller's own keys (name, EVSE id, API version, cadence, warm-up).
 * An EVerest module entry can be pasted as it is: `{module, config_implementation: {main: {...}}}` is unwrapped.
 */
import * as v from 'valibot';
import { DEFAULT_DST, DstRuleSchema, type DstRule } from '../domain/dst.js';
import { parseUtcOffset } from '../domain/local-time.js';
import { issueLines } from '../domain/validation.js';

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const port = int(1, 65535);

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
  meter_tls_certificate: v.optional(v.string(), ''),
  ntp_server_1_ip_addr: v.optional(v.string(), ''),
  ntp_server_1_port: v.optional(port, 123),
  ntp_server_2_ip_addr: v.optional(v.string(), ''),
  ntp_server_2_port: v.optional(port, 123),
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

/** Unwraps an EVerest module entry (`config_implementation.main`, or `config_module`) when one is given. */
export function unwrapEverestModule(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const record = input as Record<string, unknown>;
  const main = (record.config_implementation as Record<string, unknown> | undefined)?.main ?? record.config_module;
  if (typeof main !== 'object' || main === null) return input;
  return { ...(main as Record<string, unknown>), ...('name' in record ? { name: record.name } : {}), ...('evse_id' in record ? { evse_id: record.evse_id } : {}) };
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/** Validates a meter config and reports every problem at once, each as `key: message`. */
export function parseMeterConfig(input: unknown): ParseResult<MeterConfig> {
  const result = v.safeParse(MeterConfigSchema, unwrapEverestModule(input));
  if (!result.success) {
    return { ok: false, problems: issueLines(result.issues) };
  }
  const value = result.output as MeterConfig;
  // "raised to the warning level if configured lower" (reference §4.1)
  if (value.temperature_error_level_C < value.temperature_warning_level_C) value.temperature_error_level_C = value.temperature_warning_level_C;
  return { ok: true, value };
}
