/**
 * Valibot schemas for the bodies the meter accepts on `/legal` (reference §3.5, §3.6; field limits from
 * OPMAN p.71 Table 7). Limits are in bytes of UTF-8, as the device counts them.
 */
import * as v from 'valibot';

const bytesAtMost = (max: number) =>
  v.check<string, string>((s) => Buffer.byteLength(s, 'utf8') <= max, `at most ${max} bytes`);

const v1Fields = {
  evseId: v.pipe(v.string(), bytesAtMost(37)),
  transactionId: v.pipe(v.string(), v.minLength(1, 'must not be empty'), bytesAtMost(37)),
  clientId: v.optional(v.pipe(v.string(), bytesAtMost(37)), ''),
  tariffId: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(4)), 0),
  cableId: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(7)), 0),
  userData: v.optional(v.pipe(v.string(), bytesAtMost(128)), ''),
};

/** v1 start: v2-only fields are refused, as a v1 device would not know them (inferred). */
export const StartV1Schema = v.strictObject(v1Fields);

/** v2 start adds the OCMF fields TT, UV, UD, SC; their limits are undocumented, so generous bounds apply. */
export const StartV2Schema = v.strictObject({
  ...v1Fields,
  TT: v.optional(v.pipe(v.string(), bytesAtMost(250)), ''),
  UV: v.optional(v.pipe(v.string(), bytesAtMost(64)), ''),
  UD: v.optional(v.pipe(v.string(), bytesAtMost(128)), ''),
  SC: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(255)), 0),
});

export type StartBody = v.InferOutput<typeof StartV1Schema> & Partial<Pick<v.InferOutput<typeof StartV2Schema>, 'TT' | 'UV' | 'UD' | 'SC'>>;

export const StopSchema = v.strictObject({ running: v.literal(false) });
