/**
 * The meter's settings (reference §3.8): time zone and DST rule, NTP, OCMF identification type, TLS switch and
 * cable compensation tables, plus the valibot schema every `PUT /v1/settings` body is checked against.
 */
import * as v from 'valibot';
import { parseUtcOffset } from '../../domain/local-time.js';

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

const NtpServerSchema = v.strictObject({
  ipAddress: v.pipe(v.string(), v.maxLength(253)),
  port: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)),
});
const CableSchema = v.strictObject({
  cableSpName: v.pipe(v.string(), v.maxLength(32)),
  cableSpId: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(7)),
  cableSpRes: v.pipe(v.number(), v.minValue(0)),
});

export const SettingsWriteSchema = v.strictObject({
  time: v.optional(v.strictObject({
    utc: v.optional(v.pipe(v.string(), v.isoTimestamp('utc must be an ISO 8601 UTC timestamp'), v.endsWith('Z', 'utc must end in Z'))),
    tz: v.optional(v.pipe(v.string(), v.check((s) => parseUtcOffset(s) !== undefined, 'tz must be ±HH:MM within −11:00..+14:00 in quarter hours'))),
    dst: v.optional(DstRuleSchema),
  })),
  ntp: v.optional(v.strictObject({
    servers: v.optional(v.pipe(v.array(NtpServerSchema), v.maxLength(2))),
    syncPeriod: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
    ntpActivated: v.optional(v.boolean()),
  })),
  ocmfId: v.optional(v.strictObject({ IT: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(17)) })),
  http: v.optional(v.strictObject({ tls_on: v.boolean() })),
  cableConf: v.optional(v.pipe(v.array(CableSchema), v.maxLength(8))),
});
export type SettingsWrite = v.InferOutput<typeof SettingsWriteSchema>;

export interface DeviceSettings {
  tz: string;
  dst: DstRule;
  ntp: { servers: { ipAddress: string; port: number }[]; syncPeriod: number; ntpActivated: boolean };
  IT: number;
  tlsOn: boolean;
  cableConf: { cableSpName: string; cableSpId: number; cableSpRes: number }[];
}

export const DEFAULT_DST: DstRule = {
  activated: false,
  offset: 60,
  start: { order: 'last', day: 'sunday', month: 'march', hour: 'T01:00Z' },
  end: { order: 'last', day: 'sunday', month: 'october', hour: 'T01:00Z' },
};

export function defaultSettings(tlsOn: boolean): DeviceSettings {
  return {
    tz: '+00:00',
    dst: structuredClone(DEFAULT_DST),
    ntp: { servers: [{ ipAddress: '', port: 123 }, { ipAddress: '', port: 123 }], syncPeriod: 120, ntpActivated: false },
    IT: 0,
    tlsOn,
    cableConf: Array.from({ length: 8 }, (_, id) => ({ cableSpName: id === 0 ? 'No_Comp' : `${id}mR_Comp`, cableSpId: id, cableSpRes: id })),
  };
}

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
export function localOffsetMinutes(settings: DeviceSettings, utcMs: number): number {
  const base = parseUtcOffset(settings.tz) ?? 0;
  const { dst } = settings;
  if (!dst.activated) return base;
  const year = new Date(utcMs).getUTCFullYear();
  const start = boundary(year, dst.start);
  const end = boundary(year, dst.end);
  const active = start < end ? utcMs >= start && utcMs < end : utcMs >= start || utcMs < end;
  return active ? base + dst.offset : base;
}

/** The GET /v1/settings body (the full shape is unpublished; reference §3.8 lists the confirmed fields). */
export function renderSettings(settings: DeviceSettings, meterId: string, utcIso: string): Record<string, unknown> {
  return {
    meterId,
    time: { utc: utcIso, tz: settings.tz, dst: settings.dst },
    ntp: settings.ntp,
    ocmfId: { IT: settings.IT },
    http: { tls_on: settings.tlsOn },
    cableConf: settings.cableConf,
  };
}
