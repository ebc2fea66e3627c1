/**
 * The telemetry settings (`registration.telemetry` in the controller's config), with their one set of defaults. Until
 * the registration schema carries the key, the wiring reads it from the parsed config object when present and
 * parses it here; absent, every default applies (telemetry on whenever registration is configured).
 */
import * as v from 'valibot';
import { describeIssues } from '../../domain/validation.js';

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

export const TelemetryOptionsSchema = v.strictObject({
  /** Post MirrorUsagePoint telemetry and keep DERStatus / DERAvailability / DERSettings current. */
  enabled: v.optional(v.boolean(), true),
  /** The IANA Private Enterprise Number in the last 8 digits of every mRID (CSIP-AUS TS 5573 §4.2). */
  pen: v.optional(int(0, 99_999_999), 0),
  /** 'estimate': 0 var flagged derived (a DC meter measures no reactive power; CSIP-AUS requires it); 'omit': none. */
  reactivePower: v.optional(v.picklist(['estimate', 'omit']), 'estimate'),
  /** Intervals kept per site while the server is unreachable (the oldest are dropped beyond it). */
  backlogIntervals: v.optional(int(1, 100_000), 1440),
  /** The interval length until the server gives a postRate, seconds. */
  defaultPostRateS: v.optional(int(1, 86_400), 300),
  /** Wait after a failed request before trying again, ms. */
  retryMs: v.optional(int(100, 3_600_000), 30_000),
  /** Requests in flight at a time for the whole fleet (aggregator mode). */
  concurrency: v.optional(int(1, 256), 16),
});

export type TelemetryOptions = v.InferOutput<typeof TelemetryOptionsSchema>;

/** Parses `registration.telemetry` (absent → every default); throws a RangeError naming the problems. */
export function telemetryOptions(input: unknown): TelemetryOptions {
  const result = v.safeParse(TelemetryOptionsSchema, input ?? {});
  if (!result.success) throw new RangeError(`registration.telemetry: ${describeIssues(result.issues)}`);
  return result.output;
}
