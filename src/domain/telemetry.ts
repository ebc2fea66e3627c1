/**
 * Telemetry as IEEE 2030.5 MirrorUsagePoints (CSIP-AUS Annex A "Reporting DER data"): the ReadingType table of what
 * the controller posts, the mRIDs, and the interval aggregation of the meters' readings into an average, a minimum
 * and a maximum per interval. Pure: no clock (times come in), no I/O.
 *
 * Two usage points per site, with the roleFlags CACTUS's checks look for (bsgip/cactus-runner ReadingLocation):
 * - **site** `0x03` (isMirror | isPremisesAggregationPoint): the connection point, from the configured site meter,
 *   else the charger's own meters (the charger is then the whole site as far as we can measure);
 * - **der** `0x49` (isMirror | isDER | isSubmeter): the charger, the sum of its meters.
 *
 * What a LEM DCBM cannot measure: it meters the DC output, so there is no AC reactive power, no frequency and no AC
 * phase voltage. Reactive power, mandatory in CSIP-AUS, is reported as 0 var flagged `derived` (qualityFlags bit 5:
 * computed, not measured: an EV charger's PFC front end draws at unity power factor) unless the configuration says
 * `omit`; frequency is left out; the voltage posted is the DC output voltage, on the DER usage point only, `phase` 0.
 *
 * Sign convention (CSIP-AUS): site active power is `flowDirection` 1 (forward: positive = import from the grid);
 * DER active power is `flowDirection` 19 (reverse: positive = export), so a charging vehicle reads negative there.
 */

/** RoleFlagsType bits (IEEE 2030.5 §B RoleFlagsType). */
export const ROLE_FLAGS = { isMirror: 0x01, isPremisesAggregationPoint: 0x02, isPEV: 0x04, isDER: 0x08, isRevenueQuality: 0x10, isDC: 0x20, isSubmeter: 0x40 } as const;
export const SITE_ROLE = ROLE_FLAGS.isMirror | ROLE_FLAGS.isPremisesAggregationPoint;
export const DER_ROLE = ROLE_FLAGS.isMirror | ROLE_FLAGS.isDER | ROLE_FLAGS.isSubmeter;

export type MupRole = 'site' | 'der';
export const ROLE_OF: Record<MupRole, number> = { site: SITE_ROLE, der: DER_ROLE };

export type Quantity = 'W' | 'var' | 'V';
export type Statistic = 'avg' | 'min' | 'max';

/** UomType, KindType, DataQualifierType, FlowDirectionType, CommodityType codes (sep.xsd). */
export const UOM: Record<Quantity, number> = { W: 38, var: 63, V: 29 };
export const KIND_POWER = 37;
export const DATA_QUALIFIER: Record<Statistic, number> = { avg: 2, max: 8, min: 9 };
export const FLOW_FORWARD = 1;
export const FLOW_REVERSE = 19;
export const FLOW_NONE = 0;
/** Electricity, secondary metered value (the low-voltage side of the service transformer). */
export const COMMODITY_ELECTRICITY_SECONDARY = 1;
/** ServiceKind electricity. */
export const SERVICE_ELECTRICITY = 0;
/** qualityFlags bit 5: derived (calculated, not measured directly). */
export const QUALITY_DERIVED = 0x0020;

export interface ReadingTypeSpec {
  /** Stable key, e.g. `der.W.avg`; also the backlog's column. */
  key: string;
  role: MupRole;
  quantity: Quantity;
  statistic: Statistic;
  /** ≤ 32 characters (String32). */
  description: string;
  commodity: number;
  kind: number;
  uom: number;
  flowDirection: number;
  phase: number;
  powerOfTenMultiplier: number;
  dataQualifier: number;
  /** Unique per site among the MirrorMeterReadings (the mRID's reading byte). */
  index: number;
  /** qualityFlags of every reading of this type (0 = none sent). */
  qualityFlags: number;
}

export type ReactivePowerPolicy = 'estimate' | 'omit';

/** Decimal places kept per quantity: powerOfTenMultiplier −1 for volts (0.1 V), 0 for W and var. */
const MULTIPLIER: Record<Quantity, number> = { W: 0, var: 0, V: -1 };

function spec(index: number, role: MupRole, quantity: Quantity, statistic: Statistic, qualityFlags = 0): ReadingTypeSpec {
  const who = role === 'site' ? 'Site' : 'DER';
  const what = quantity === 'W' ? 'Real Power (W)' : quantity === 'var' ? 'Reactive Power (var)' : 'DC Voltage (V)';
  const stat = statistic === 'avg' ? 'Avg' : statistic === 'min' ? 'Min' : 'Max';
  return {
    key: `${role}.${quantity}.${statistic}`, role, quantity, statistic, description: `${who} ${stat} ${what}`.slice(0, 32),
    commodity: COMMODITY_ELECTRICITY_SECONDARY, kind: KIND_POWER, uom: UOM[quantity],
    flowDirection: quantity === 'V' ? FLOW_NONE : role === 'site' ? FLOW_FORWARD : FLOW_REVERSE,
    phase: 0, powerOfTenMultiplier: MULTIPLIER[quantity], dataQualifier: DATA_QUALIFIER[statistic], index, qualityFlags,
  };
}

/** What is posted, per usage point, in MirrorMeterReading order. */
export function readingTypes(reactive: ReactivePowerPolicy = 'estimate'): ReadingTypeSpec[] {
  const types = [
    spec(1, 'site', 'W', 'avg'), spec(2, 'site', 'W', 'min'), spec(3, 'site', 'W', 'max'),
    spec(5, 'der', 'W', 'avg'), spec(6, 'der', 'W', 'min'), spec(7, 'der', 'W', 'max'),
    spec(9, 'der', 'V', 'avg'), spec(10, 'der', 'V', 'min'), spec(11, 'der', 'V', 'max'),
  ];
  if (reactive === 'estimate') types.push(spec(4, 'site', 'var', 'avg', QUALITY_DERIVED), spec(8, 'der', 'var', 'avg', QUALITY_DERIVED));
  return types.sort((a, b) => a.index - b.index);
}

const hex2 = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');
/** The PEN as the last 8 characters, in decimal (CSIP-AUS TS 5573 §4.2, as cactus-runner checks it). */
const penDigits = (pen: number): string => {
  if (!Number.isInteger(pen) || pen < 0 || pen > 99_999_999) throw new RangeError(`PEN ${pen} must be an integer of at most 8 digits`);
  return String(pen).padStart(8, '0');
};

/** A usage point's mRID (SEP2 Client Handbook pattern): 22 LFDI hex digits, the roleFlags byte, the PEN. */
export function usagePointMrid(lfdi: string, role: MupRole, pen: number): string {
  return `${lfdi.toUpperCase().slice(0, 22)}${hex2(ROLE_OF[role])}${penDigits(pen)}`;
}

/** A MirrorMeterReading's mRID, unique per EndDevice: 20 LFDI hex digits, the roleFlags byte, 0x80 + the type index, the PEN. */
export function meterReadingMrid(lfdi: string, type: ReadingTypeSpec, pen: number): string {
  return `${lfdi.toUpperCase().slice(0, 20)}${hex2(ROLE_OF[type.role])}${hex2(0x80 + type.index)}${penDigits(pen)}`;
}

// ---- interval aggregation -----------------------------------------------------------------------------------

export interface Stats {
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface Bucket {
  /** Epoch seconds. */
  startS: number;
  /** Seconds; the interval ends at startS + lengthS. */
  lengthS: number;
  site: { W: Stats };
  der: { W: Stats; V: Stats };
}

export interface Accumulator {
  /** The interval length new buckets get (the server's postRate), seconds. */
  lengthS: number;
  /** The end of the last closed interval, epoch seconds: a new interval never starts before it (no overlap). */
  lastEndS: number;
  /** The latest reading of each meter (sample and hold, so several meters add up at every reading). */
  latest: Record<string, { powerW: number; voltageV: number }>;
  /** The open interval (at most one: a reading that belongs to a later one closes it). */
  open: Bucket | undefined;
}

export interface MeterRoles {
  /** The meters whose sum is the DER (the charger's EVSEs). */
  derMeters: readonly string[];
  /** The site meter, if one is configured; without one the site is the DER. */
  siteMeter?: string | undefined;
}

export interface MeterSample {
  meter: string;
  /** When it was read (wall clock), epoch ms. */
  atMs: number;
  /** Positive = import (energy delivered to the vehicle), W. */
  powerW: number;
  voltageV: number;
}

const emptyStats = (): Stats => ({ count: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY });
const add = (s: Stats, x: number): Stats => ({ count: s.count + 1, sum: s.sum + x, min: Math.min(s.min, x), max: Math.max(s.max, x) });

export function emptyAccumulator(lengthS: number, lastEndS = 0): Accumulator {
  if (!Number.isInteger(lengthS) || lengthS < 1) throw new RangeError(`interval length ${lengthS} must be a positive integer of seconds`);
  return { lengthS, lastEndS, latest: {}, open: undefined };
}

/**
 * The interval a time falls in: aligned on multiples of the length since the epoch (so 60 s intervals start on the
 * minute, as CACTUS checks), but never before the last closed one ended (after a postRate change the first interval
 * is shortened rather than overlapping).
 */
export function intervalAt(acc: Pick<Accumulator, 'lengthS' | 'lastEndS'>, atMs: number): { startS: number; lengthS: number } {
  const t = Math.floor(atMs / 1000);
  const aligned = Math.floor(t / acc.lengthS) * acc.lengthS;
  const startS = Math.max(aligned, acc.lastEndS);
  const endS = aligned + acc.lengthS;
  return endS > startS ? { startS, lengthS: endS - startS } : { startS, lengthS: acc.lengthS };
}

/** When the interval open at `nowMs` (or the open bucket) ends, epoch ms. */
export function nextEndMs(acc: Accumulator, nowMs: number): number {
  if (acc.open) return (acc.open.startS + acc.open.lengthS) * 1000;
  const { startS, lengthS } = intervalAt(acc, nowMs);
  return (startS + lengthS) * 1000;
}

/** Closes the open bucket when it has ended by `nowMs`; a bucket without samples closes with nothing to post. */
export function closeDue(acc: Accumulator, nowMs: number): { acc: Accumulator; closed: Bucket | undefined } {
  const open = acc.open;
  if (!open || (open.startS + open.lengthS) * 1000 > nowMs) return { acc, closed: undefined };
  return { acc: { ...acc, open: undefined, lastEndS: open.startS + open.lengthS }, closed: open };
}

/** Adds a meter's reading: updates its held value and samples the site and DER totals into the open interval. */
export function addSample(acc: Accumulator, roles: MeterRoles, sample: MeterSample): { acc: Accumulator; closed: Bucket | undefined } {
  const isDer = roles.derMeters.includes(sample.meter);
  const isSite = roles.siteMeter === sample.meter;
  if (!isDer && !isSite) return { acc, closed: undefined };
  if (!Number.isFinite(sample.powerW) || !Number.isFinite(sample.voltageV)) return { acc, closed: undefined };
  if (Math.floor(sample.atMs / 1000) < acc.lastEndS) return { acc, closed: undefined }; // late: its interval is closed
  const due = closeDue(acc, sample.atMs);
  const closed = due.closed;
  let next = due.acc;
  const latest = { ...next.latest, [sample.meter]: { powerW: sample.powerW, voltageV: sample.voltageV } };
  const where = intervalAt(next, sample.atMs);
  let bucket = next.open ?? { ...where, site: { W: emptyStats() }, der: { W: emptyStats(), V: emptyStats() } };
  const held = roles.derMeters.map((m) => latest[m]).filter((x): x is { powerW: number; voltageV: number } => x !== undefined);
  if (isDer && held.length > 0) {
    const derW = held.reduce((s, x) => s + x.powerW, 0);
    const derV = held.reduce((s, x) => s + x.voltageV, 0) / held.length;
    bucket = { ...bucket, der: { W: add(bucket.der.W, derW), V: add(bucket.der.V, derV) } };
    if (!roles.siteMeter) bucket = { ...bucket, site: { W: add(bucket.site.W, derW) } };
  }
  if (isSite) bucket = { ...bucket, site: { W: add(bucket.site.W, sample.powerW) } };
  next = { ...next, latest, open: bucket };
  return { acc: next, closed };
}

/** A meter that stopped answering no longer adds its held value to the totals. */
export function dropMeter(acc: Accumulator, meter: string): Accumulator {
  if (!(meter in acc.latest)) return acc;
  const latest = { ...acc.latest };
  delete latest[meter];
  return { ...acc, latest };
}

/**
 * A new interval length (the server changed postRate): it applies from the next interval, and the open one ends at
 * the first boundary of the new length after `nowMs` if that is sooner, so the new rate is followed at once (CACTUS
 * ALL-10 expects a post within 90 s of the change back to 60 s).
 */
export function setIntervalLength(acc: Accumulator, lengthS: number, nowMs: number): Accumulator {
  if (!Number.isInteger(lengthS) || lengthS < 1) throw new RangeError(`interval length ${lengthS} must be a positive integer of seconds`);
  if (lengthS === acc.lengthS) return acc;
  const open = acc.open;
  if (!open) return { ...acc, lengthS };
  const nowS = Math.floor(nowMs / 1000);
  const boundary = Math.ceil((nowS + 1) / lengthS) * lengthS;
  const end = Math.min(open.startS + open.lengthS, Math.max(boundary, open.startS + 1));
  return { ...acc, lengthS, open: { ...open, lengthS: end - open.startS } };
}

// ---- what is posted -----------------------------------------------------------------------------------------

/** One MirrorMeterReading to post: the backlog's row. */
export interface TelemetryReading {
  role: MupRole;
  /** ReadingTypeSpec.key */
  type: string;
  startS: number;
  durationS: number;
  /** Int48, in units of 10^powerOfTenMultiplier. */
  value: number;
  qualityFlags: number;
}

const statOf = (s: Stats, statistic: Statistic): number | undefined =>
  s.count === 0 ? undefined : statistic === 'avg' ? s.sum / s.count : statistic === 'min' ? s.min : s.max;

/** The physical value of a reading type over a bucket (before scaling), or undefined when nothing was measured. */
export function bucketValue(bucket: Bucket, type: ReadingTypeSpec): number | undefined {
  if (type.quantity === 'var') return bucket[type.role].W.count > 0 ? 0 : undefined; // derived: unity power factor
  if (type.quantity === 'V') return type.role === 'der' ? statOf(bucket.der.V, type.statistic) : undefined;
  const stats = bucket[type.role].W;
  // DER power is reverse flow (positive = export): charging reads negative, and its min is the most negative.
  if (type.role === 'der') {
    const flipped = type.statistic === 'min' ? statOf(stats, 'max') : type.statistic === 'max' ? statOf(stats, 'min') : statOf(stats, 'avg');
    return flipped === undefined ? undefined : -flipped;
  }
  return statOf(stats, type.statistic);
}

/** The physical value in the type's units: value × 10^powerOfTenMultiplier. */
export const physical = (value: number, type: Pick<ReadingTypeSpec, 'powerOfTenMultiplier'>): number => value * 10 ** type.powerOfTenMultiplier;

const INT48 = 2 ** 47;

/** The readings of a closed interval, one per reading type that has a value. */
export function intervalReadings(bucket: Bucket, types: readonly ReadingTypeSpec[]): TelemetryReading[] {
  const out: TelemetryReading[] = [];
  for (const type of types) {
    const x = bucketValue(bucket, type);
    if (x === undefined) continue;
    const value = Math.round(x / 10 ** type.powerOfTenMultiplier) || 0; // no -0
    if (Math.abs(value) >= INT48) continue;
    out.push({ role: type.role, type: type.key, startS: bucket.startS, durationS: bucket.lengthS, value, qualityFlags: type.qualityFlags });
  }
  return out;
}
