/**
 * The meter's DST rule (reference §3.8: `time.dst`), its schema, and the local offset it gives at an instant.
 * Pure; shared by the driver's config and the device simulator.
 */
import * as v from 'valibot';
import { parseUtcOffset } from './local-time.js';

const ORDERS = ['first', 'second', 'third', 'fourth', 'last'] as const;
const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'] as const;

const DstPointSchema = v.strictObject({
  order: v.picklist(ORDERS),
  day: v.picklist(DAYS),
  month: v.picklist(MONTHS),
  hour: v.pipe(v.string(), v.regex(/^T([01]\d|2[0-3]):[0-5]\dZ$/, 'hour must look like "T01:00Z"')),
});
export const DstRuleSchema = v.strictObject({
  activated: v.boolean(),
  offset: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(180)),
  start: DstPointSchema,
  end: DstPointSchema,
});
export type DstRule = v.InferOutput<typeof DstRuleSchema>;

export const DEFAULT_DST: DstRule = {
  activated: false,
  offset: 60,
  start: { order: 'last', day: 'sunday', month: 'march', hour: 'T01:00Z' },
  end: { order: 'last', day: 'sunday', month: 'october', hour: 'T01:00Z' },
};

/** The instant a DST boundary falls on in a year, e.g. the last Sunday of March at 01:00Z. */
function boundary(year: number, point: DstRule['start']): number {
  const month = MONTHS.indexOf(point.month);
  const weekday = DAYS.indexOf(point.day);
  const [hh = 0, mm = 0] = point.hour.slice(1, 6).split(':').map(Number);
  let day: number;
  if (point.order === 'last') {
    const lastDay = new Date(Date.UTC(year, month + 1, 0));
    day = lastDay.getUTCDate() - ((lastDay.getUTCDay() - weekday + 7) % 7);
  } else {
    const first = new Date(Date.UTC(year, month, 1)).getUTCDay();
    day = 1 + ((weekday - first + 7) % 7) + 7 * ORDERS.indexOf(point.order);
  }
  return Date.UTC(year, month, day, hh, mm);
}

/** Local offset in minutes: the time zone plus the DST offset while the rule is active (OPMAN p.86–90). */
export function localOffset(tz: string, dst: DstRule, utcMs: number): number {
  const base = parseUtcOffset(tz) ?? 0;
  if (!dst.activated) return base;
  const year = new Date(utcMs).getUTCFullYear();
  const start = boundary(year, dst.start);
  const end = boundary(year, dst.end);
  const active = start < end ? utcMs >= start && utcMs < end : utcMs >= start || utcMs < end;
  return active ? base + dst.offset : base;
}

