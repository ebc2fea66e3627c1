/** The telemetry backlog (telemetry.sqlite): order, bound, what survives reopening, and the XML of what is posted. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMirrorUsagePointList, encodeMirrorMeterReading, encodeMirrorUsagePoint } from '../../src/adapters/sep2/mirror.js';
import { BacklogStore } from '../../src/adapters/telemetry/backlog.store.js';
import { encodeDerAvailabilityReport, encodeDerStatusReport } from '../../src/adapters/telemetry/der-reports.js';
import { meterReadingMrid, readingTypes, ROLE_OF, usagePointMrid, type TelemetryReading } from '../../src/domain/telemetry.js';
import { xsd, xsdMissingReason } from '../helpers/xsd.js';

const LFDI = '3E4F45AB31EDFE5B67E343E5E4562E3100077777';
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const path = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-backlog-'));
  dirs.push(dir);
  return join(dir, 'telemetry.sqlite');
};
const interval = (startS: number, n = 2): TelemetryReading[] =>
  Array.from({ length: n }, (_, i) => ({ role: 'der', type: `der.W.${i === 0 ? 'avg' : 'max'}`, startS, durationS: 60, value: -startS, qualityFlags: 0 }));

describe('telemetry backlog', () => {
  it('keeps readings in interval order across a reopen, with the last interval end', () => {
    const file = path();
    const store = BacklogStore.open(file);
    store.add('a', interval(120), 180, 100);
    store.add('a', interval(60), 120, 100);
    store.add('b', interval(60), 120, 100);
    store.close();
    const again = BacklogStore.open(file);
    expect(again.oldest('a', 10).map((r) => r.startS)).toEqual([60, 60, 120, 120]);
    expect(again.lastEnd('a')).toBe(180); // never moves back
    expect(again.count('b')).toBe(2);
    again.remove(again.oldest('a', 1)[0]!.id);
    expect(again.count('a')).toBe(3);
    again.close();
  });

  it('drops the oldest intervals beyond the bound, and says how many readings', () => {
    const store = BacklogStore.open(path());
    for (let k = 0; k < 5; k += 1) expect(store.add('a', interval(k * 60), (k + 1) * 60, 3).dropped).toBe(k >= 3 ? 2 : 0);
    expect(store.oldest('a', 100).map((r) => r.startS)).toEqual([120, 120, 180, 180, 240, 240]);
    store.close();
  });
});

describe('metering mirror documents', () => {
  const types = readingTypes();
  it('a MirrorUsagePoint, a MirrorMeterReading and the DER reports are valid against the XSDs', (context) => {
    if (!xsd) {
      console.warn(`XSD check ${xsdMissingReason}`);
      context.skip();
      return;
    }
    const der = types.filter((t) => t.role === 'der');
    const mup = encodeMirrorUsagePoint({ mrid: usagePointMrid(LFDI, 'der', 1), description: 'DER', roleFlags: ROLE_OF.der, lfdi: LFDI, intervalLengthS: 60, readings: der.map((type) => ({ mrid: meterReadingMrid(LFDI, type, 1), type })) });
    expect(xsd.validate(mup)).toEqual([]);
    expect(mup).toContain('<roleFlags>49</roleFlags>');
    const mmr = encodeMirrorMeterReading({ mrid: meterReadingMrid(LFDI, der[0]!, 1), description: der[0]!.description, startS: 1_700_000_040, durationS: 60, value: -7000, qualityFlags: 0x20, nextUpdateS: 1_700_000_160 });
    expect(xsd.validate(mmr)).toEqual([]);
    const report = { genConnectStatus: 7, operationalModeStatus: 2 as const, inverterStatus: 5 as const, statWAvailW: 150_000 };
    expect(xsd.validate(encodeDerStatusReport(report, { genConnectStatus: 1, inverterStatus: 2, operationalModeStatus: 3 }, 4))).toEqual([]);
    expect(xsd.validate(encodeDerAvailabilityReport(report, 4))).toEqual([]);
    expect(() => encodeMirrorMeterReading({ mrid: 'AB', startS: 0, durationS: 60, value: 2 ** 47, qualityFlags: 0 })).toThrow(RangeError);
  });

  it('a MirrorUsagePointList is read by namespace, with its pollRate and each postRate; a bad one is refused', () => {
    const list = decodeMirrorUsagePointList(`<?xml version="1.0"?><m:MirrorUsagePointList xmlns:m="urn:ieee:std:2030.5:ns" href="/mup" all="1" results="1" pollRate="60">
      <m:MirrorUsagePoint href="/mup/7"><m:mRID>AB12</m:mRID><m:roleFlags>03</m:roleFlags><m:serviceCategoryKind>0</m:serviceCategoryKind><m:status>1</m:status>
      <m:deviceLFDI>${LFDI.toLowerCase()}</m:deviceLFDI><m:MirrorMeterReading><m:mRID>cd34</m:mRID></m:MirrorMeterReading><m:postRate>300</m:postRate><x:ext xmlns:x="urn:vendor">1</x:ext></m:MirrorUsagePoint></m:MirrorUsagePointList>`);
    expect(list).toEqual({ all: 1, results: 1, pollRate: 60, usagePoints: [{ href: '/mup/7', mrid: 'AB12', roleFlags: 3, deviceLfdi: LFDI, readingMrids: ['CD34'], postRate: 300 }] });
    expect(() => decodeMirrorUsagePointList('<MirrorUsagePointList xmlns="urn:ieee:std:2030.5:ns" all="x" results="0"/>')).toThrow(/all/);
    expect(() => decodeMirrorUsagePointList('<EndDeviceList xmlns="urn:ieee:std:2030.5:ns" all="0" results="0"/>')).toThrow(/expected a MirrorUsagePointList/);
  });
});
