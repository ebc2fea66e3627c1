/** The telemetry domain: ReadingTypes, mRIDs, interval aggregation (alignment, several meters, post-rate changes), DER status. */
import { describe, expect, it } from 'vitest';
import {
  addSample, bucketValue, closeDue, DER_ROLE, dropMeter, emptyAccumulator, intervalAt, intervalReadings, meterReadingMrid, nextEndMs,
  physical, QUALITY_DERIVED, readingTypes, setIntervalLength, SITE_ROLE, usagePointMrid, type Accumulator, type MeterRoles,
} from '../../src/domain/telemetry.js';
import { derReport, statusChanged, type DerCondition } from '../../src/domain/telemetry-status.js';

const LFDI = '3E4F45AB31EDFE5B67E343E5E4562E3100077777';
const T0 = 1_700_000_040_000; // 12:34:00 UTC of some day: on the minute
const one: MeterRoles = { derMeters: ['evse'] };

function feed(acc: Accumulator, roles: MeterRoles, samples: [string, number, number, number][]) {
  const closed = [];
  for (const [meter, atMs, powerW, voltageV] of samples) {
    const step = addSample(acc, roles, { meter, atMs, powerW, voltageV });
    acc = step.acc;
    if (step.closed) closed.push(step.closed);
  }
  return { acc, closed };
}

describe('reading types (CSIP-AUS Annex A as cactus-runner checks it)', () => {
  it('site roleFlags 0x03 and DER 0x49; W, var and V with the codes of sep.xsd', () => {
    expect(SITE_ROLE).toBe(0x03);
    expect(DER_ROLE).toBe(0x49);
    const types = readingTypes();
    const byKey = Object.fromEntries(types.map((t) => [t.key, t]));
    expect(byKey['site.W.avg']).toMatchObject({ uom: 38, kind: 37, dataQualifier: 2, flowDirection: 1, phase: 0, powerOfTenMultiplier: 0, commodity: 1, qualityFlags: 0 });
    expect(byKey['der.W.avg']).toMatchObject({ uom: 38, kind: 37, dataQualifier: 2, flowDirection: 19 });
    expect(byKey['der.W.min']!.dataQualifier).toBe(9);
    expect(byKey['der.W.max']!.dataQualifier).toBe(8);
    expect(byKey['site.var.avg']).toMatchObject({ uom: 63, dataQualifier: 2, qualityFlags: QUALITY_DERIVED });
    expect(byKey['der.V.avg']).toMatchObject({ uom: 29, powerOfTenMultiplier: -1, flowDirection: 0 });
    expect(byKey['site.V.avg']).toBeUndefined(); // the DC voltage is the charger's, not the connection point's
    expect(types.every((t) => t.description.length <= 32)).toBe(true);
    expect(new Set(types.map((t) => t.index)).size).toBe(types.length);
  });

  it('omit leaves reactive power out', () => {
    expect(readingTypes('omit').some((t) => t.quantity === 'var')).toBe(false);
  });

  it('mRIDs: 32 hex digits, the PEN in decimal as the last 8, unique per site and reading', () => {
    const site = usagePointMrid(LFDI, 'site', 12345);
    const der = usagePointMrid(LFDI, 'der', 12345);
    expect(site).toMatch(/^[0-9A-F]{32}$/);
    expect(site.slice(-8)).toBe('00012345');
    expect(site.slice(22, 24)).toBe('03');
    expect(der.slice(22, 24)).toBe('49');
    const mrids = readingTypes().map((t) => meterReadingMrid(LFDI, t, 12345));
    expect(mrids.every((m) => /^[0-9A-F]{32}$/.test(m) && m.endsWith('00012345'))).toBe(true);
    expect(new Set([...mrids, site, der]).size).toBe(mrids.length + 2);
    expect(() => usagePointMrid(LFDI, 'site', 100_000_000)).toThrow(RangeError);
  });
});

describe('interval aggregation', () => {
  it('intervals align on multiples of the length (60 s starts on the minute)', () => {
    const acc = emptyAccumulator(60);
    expect(intervalAt(acc, T0 + 17_500)).toEqual({ startS: T0 / 1000, lengthS: 60 });
    expect(nextEndMs(acc, T0 + 17_500)).toBe(T0 + 60_000);
    expect(intervalAt(emptyAccumulator(300), T0 + 1000).startS % 300).toBe(0);
  });

  it('average, min and max of the interval; the next interval\'s first reading closes it', () => {
    const { acc, closed } = feed(emptyAccumulator(60), one, [
      ['evse', T0 + 1000, 1000, 400], ['evse', T0 + 2000, 3000, 402], ['evse', T0 + 59_999, 2000, 404], ['evse', T0 + 60_000, 5000, 410],
    ]);
    expect(closed).toHaveLength(1);
    const bucket = closed[0]!;
    expect(bucket).toMatchObject({ startS: T0 / 1000, lengthS: 60 });
    const types = readingTypes();
    const value = (key: string) => bucketValue(bucket, types.find((t) => t.key === key)!);
    expect(value('site.W.avg')).toBe(2000);
    expect(value('site.W.min')).toBe(1000);
    expect(value('site.W.max')).toBe(3000);
    // DER power is reverse flow: a charging vehicle reads negative; its min is the largest draw.
    expect(value('der.W.avg')).toBe(-2000);
    expect(value('der.W.min')).toBe(-3000);
    expect(value('der.W.max')).toBe(-1000);
    expect(value('der.V.avg')).toBe(402);
    expect(value('site.var.avg')).toBe(0);
    expect(acc.open).toMatchObject({ startS: T0 / 1000 + 60 });
    expect(acc.lastEndS).toBe(T0 / 1000 + 60);
  });

  it('readings are scaled by powerOfTenMultiplier (0.1 V) and carry their interval', () => {
    const { acc } = feed(emptyAccumulator(60), one, [['evse', T0 + 1000, 7001.4, 401.26]]);
    const { closed } = closeDue(acc, T0 + 60_000);
    const readings = intervalReadings(closed!, readingTypes());
    const volts = readings.find((r) => r.type === 'der.V.avg')!;
    expect(volts).toMatchObject({ role: 'der', startS: T0 / 1000, durationS: 60, value: 4013, qualityFlags: 0 });
    expect(physical(volts.value, readingTypes().find((t) => t.key === 'der.V.avg')!)).toBeCloseTo(401.3, 6);
    expect(readings.find((r) => r.type === 'site.W.avg')!.value).toBe(7001);
    expect(readings.find((r) => r.type === 'der.var.avg')).toMatchObject({ value: 0, qualityFlags: QUALITY_DERIVED });
    expect(readings).toHaveLength(readingTypes().length);
  });

  it('the interval is not closed before its end, and an interval without readings posts nothing', () => {
    const { acc } = feed(emptyAccumulator(60), one, [['evse', T0 + 1000, 1000, 400]]);
    expect(closeDue(acc, T0 + 59_999).closed).toBeUndefined();
    expect(closeDue(emptyAccumulator(60), T0 + 120_000).closed).toBeUndefined();
  });

  it('several meters add up to the DER at each reading (sample and hold); a lost meter no longer counts', () => {
    const two: MeterRoles = { derMeters: ['a', 'b'] };
    let { acc } = feed(emptyAccumulator(60), two, [['a', T0 + 1000, 1000, 400], ['b', T0 + 1500, 2000, 500], ['a', T0 + 2000, 1000, 400]]);
    // samples: 1000 (a alone), 3000 (a + b), 3000 (a + b)
    expect(acc.open!.der.W).toMatchObject({ count: 3, min: 1000, max: 3000, sum: 7000 });
    expect(acc.open!.der.V.max).toBe(450);
    acc = dropMeter(acc, 'b');
    acc = addSample(acc, two, { meter: 'a', atMs: T0 + 3000, powerW: 1000, voltageV: 400 }).acc;
    expect(acc.open!.der.W.sum).toBe(8000);
  });

  it('a site meter gives the site readings; without one the site is the charger', () => {
    const roles: MeterRoles = { derMeters: ['evse'], siteMeter: 'grid' };
    const { acc } = feed(emptyAccumulator(60), roles, [['evse', T0 + 1000, 7000, 400], ['grid', T0 + 1200, 9500, 230], ['stranger', T0 + 1300, 1, 1]]);
    expect(acc.open!.site.W).toMatchObject({ count: 1, sum: 9500 });
    expect(acc.open!.der.W).toMatchObject({ count: 1, sum: 7000 });
  });

  it('late and non-finite readings are ignored', () => {
    const { acc } = feed(emptyAccumulator(60), one, [['evse', T0 + 1000, 1000, 400], ['evse', T0 + 61_000, 1000, 400]]);
    const late = addSample(acc, one, { meter: 'evse', atMs: T0 + 30_000, powerW: 9, voltageV: 9 });
    expect(late.acc).toBe(acc);
    expect(addSample(acc, one, { meter: 'evse', atMs: T0 + 62_000, powerW: Number.NaN, voltageV: 1 }).acc).toBe(acc);
  });

  it('a shorter post rate ends the open interval at its next boundary; a longer one starts after the last interval (no overlap)', () => {
    let acc = feed(emptyAccumulator(300), one, [['evse', T0 + 1000, 1000, 400]]).acc;
    const start = acc.open!.startS;
    // T0 is 40 s past a 300 s boundary at most: the 300 s interval holds T0 + 1 s.
    acc = setIntervalLength(acc, 60, T0 + 1000);
    expect(acc.open!.startS + acc.open!.lengthS).toBe(T0 / 1000 + 60);
    expect(acc.open!.startS).toBe(start);
    const closed = closeDue(acc, T0 + 60_000);
    expect(closed.closed!.lengthS % 60).toBe(0);
    let next = closed.acc;
    next = setIntervalLength(next, 300, T0 + 60_000);
    next = addSample(next, one, { meter: 'evse', atMs: T0 + 61_000, powerW: 1, voltageV: 1 }).acc;
    expect(next.open!.startS).toBe(T0 / 1000 + 60);
    expect((next.open!.startS + next.open!.lengthS) % 300).toBe(0);
  });
});

describe('DER status of an EV charger (ALL-07, ALL-08)', () => {
  const base: DerCondition = { meterConnected: true, charging: false, powerW: 0, ratedW: 7000, chargeLimitW: null, connect: null, energize: null };

  it('connected and available while idle; operational while charging; off when disconnected', () => {
    expect(derReport(base)).toEqual({ genConnectStatus: 0x03, operationalModeStatus: 1, inverterStatus: 3, statWAvailW: 7000 });
    expect(derReport({ ...base, charging: true, powerW: 5000 })).toEqual({ genConnectStatus: 0x07, operationalModeStatus: 2, inverterStatus: 3, statWAvailW: 2000 });
    expect(derReport({ ...base, meterConnected: false, charging: true })).toMatchObject({ genConnectStatus: 0, operationalModeStatus: 1, inverterStatus: 1, statWAvailW: 0 });
    expect(derReport({ ...base, connect: false })).toMatchObject({ genConnectStatus: 0 });
  });

  it('a limit of 0 or opModEnergize false makes it unavailable; a limit below rating while charging is a derating', () => {
    expect(derReport({ ...base, charging: true, chargeLimitW: 0 })).toMatchObject({ genConnectStatus: 0x01, operationalModeStatus: 1, inverterStatus: 1 });
    expect(derReport({ ...base, energize: false })).toMatchObject({ genConnectStatus: 0x01 });
    expect(derReport({ ...base, charging: true, chargeLimitW: 3000, powerW: 2500 })).toEqual({ genConnectStatus: 0x07, operationalModeStatus: 2, inverterStatus: 5, statWAvailW: 500 });
  });

  it('only a change of status counts as a change (availability follows at the poll)', () => {
    const a = derReport(base);
    expect(statusChanged(undefined, a)).toBe(true);
    expect(statusChanged(a, derReport({ ...base, powerW: 100 }))).toBe(false);
    expect(statusChanged(a, derReport({ ...base, charging: true }))).toBe(true);
  });
});
