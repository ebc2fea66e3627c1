/**
 * The meter's settings (reference §3.8): time zone and DST rule, NTP, OCMF identification type, TLS switch and
 * cable compensation tables, plus the valibot schema every `PUT /v1/settings` body is checked against.
 */
import * as v from 'valibot';
import { DEFAULT_DST, DstRuleSchema, localOffset, type DstRule } from '../../domain/dst.js';
import { parseUtcOffset } from '../../domain/local-time.js';

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

/** Local offset in minutes of the device at an instant (time zone plus DST while active). */
export function localOffsetMinutes(settings: DeviceSettings, utcMs: number): number {
  return localOffset(settings.tz, settings.dst, utcMs);
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
