/** Pure LEM DCBM domain rules: firmware → API version, status words, local time text, OCMF framing, DST. */
import { describe, expect, it } from 'vitest';
import { decodeWord, encodeWord, ERROR_BITS, STATUS_BITS, startBlockers } from '../../src/domain/dcbm-status.js';
import { apiVersionOfFirmware } from '../../src/domain/firmware.js';
import { isoWithOffset, naiveLocal, ocmfTime, parseUtcOffset } from '../../src/domain/local-time.js';
import { ocmfTransactionEnded, splitOcmf } from '../../src/domain/ocmf.js';
import { defaultSettings, localOffsetMinutes } from '../../src/simulators/lem-dcbm/settings.js';

describe('apiVersionOfFirmware (fixes the reference driver\'s string comparison)', () => {
  it.each([
    ['0.1.4.0', 'v1'], // the real OCMF sample's meter unit
    ['0.1.2.3', 'v1'],
    ['0.2.0.0', 'v2'],
    ['0.10.0.0', 'v2'], // "10" > "1" happened to work; numeric here
    ['2.0.0.0', 'v2'], // the reference driver calls this v1
    ['1.0.0.0', 'v2'],
    ['0.1', 'v1'], // not four components
    ['string', 'v1'], // the EVerest mock's placeholder
    ['0.x.0.0', 'v1'],
  ])('%s → %s', (version, expected) => {
    expect(apiVersionOfFirmware(version)).toBe(expected);
  });
});

describe('status and error words', () => {
  it('encodes the nominal values 17 and 21', () => {
    expect(encodeWord(STATUS_BITS, { suLinkStatusIsOk: true, timeSyncStatusIsOk: true })).toBe(17);
    expect(encodeWord(STATUS_BITS, { suLinkStatusIsOk: true, timeSyncStatusIsOk: true, transactionIsOnGoing: true })).toBe(21);
  });

  it('decodes non-contiguous error bits', () => {
    expect(decodeWord(ERROR_BITS, 1 << 8)).toMatchObject({ logbookIntegrityIsFailed: true, suIntegrityIsFailed: false });
    expect(encodeWord(ERROR_BITS, decodeWord(ERROR_BITS, 0b1101_0110_1011))).toBe(0b1101_0110_1011 & ~(1 << 7));
  });

  it('names every start blocker', () => {
    const flags = decodeWord(STATUS_BITS, 4);
    expect(startBlockers(flags, 2)).toEqual(['sensor unit link is down', 'a meter error is active', 'a transaction is already running', 'time synchronisation is not valid']);
    expect(startBlockers(decodeWord(STATUS_BITS, 17 + 8 + 32), 0)).toEqual([]);
  });
});

describe('local time text', () => {
  const t = Date.UTC(2021, 9, 6, 11, 13, 56, 7);
  it('formats /legal, livemeasure and OCMF timestamps', () => {
    expect(isoWithOffset(t, 120)).toBe('2021-10-06T13:13:56+02:00');
    expect(isoWithOffset(t, -570)).toBe('2021-10-06T01:43:56-09:30');
    expect(naiveLocal(t, 0)).toBe('2021-10-06T11:13:56.007000');
    expect(ocmfTime(t, 120, 'R')).toBe('2021-10-06T13:13:56,007+0200 R');
  });

  it.each([['+00:00', 0], ['+14:00', 840], ['-11:00', -660], ['+05:45', 345], ['+14:15', undefined], ['-11:15', undefined], ['+01:10', undefined], ['1:00', undefined]])(
    'parses the offset %s', (text, minutes) => expect(parseUtcOffset(text)).toBe(minutes));
});

describe('OCMF framing', () => {
  it('splits at the last bar, so the payload may contain bars', () => {
    expect(splitOcmf('OCMF|{"ID":"a|b"}|{"SA":"x","SD":"00"}')).toEqual({ payloadText: '{"ID":"a|b"}', signatureText: '{"SA":"x","SD":"00"}' });
    expect(splitOcmf('OCMF|{}')).toBeUndefined(); // no signature section
    expect(splitOcmf('mock_ocmf_string')).toBeUndefined();
    expect(splitOcmf('OCMF|')).toBeUndefined();
  });
});

describe('OCMF transaction end', () => {
  const record = (...tx: (string | undefined)[]) => `OCMF|${JSON.stringify({ RD: tx.map((t) => ({ ...(t ? { TX: t } : {}), RV: 1, RI: '1-0:1.8.0', RU: 'kWh', ST: 'G' })) })}|{"SA":"x","SD":"00"}`;
  it('reads the last reading with a TX type; export readings without TX do not count', () => {
    expect(ocmfTransactionEnded(record('B', undefined, 'E', undefined))).toBe(true);
    expect(ocmfTransactionEnded(record('B', undefined, 'C', undefined))).toBe(false);
    for (const end of ['L', 'R', 'A', 'P', 'S']) expect(ocmfTransactionEnded(record('B', end))).toBe(true);
    expect(ocmfTransactionEnded(record('B', 'T'))).toBe(false);
  });
  it('is false for text that is not a readable record', () => {
    expect(ocmfTransactionEnded('mock_ocmf_string')).toBe(false);
    expect(ocmfTransactionEnded('OCMF|{not json|{}')).toBe(false);
    expect(ocmfTransactionEnded('OCMF|{"RD":"x"}|{}')).toBe(false);
  });
});

describe('DST rule', () => {
  const settings = { ...defaultSettings(false), tz: '+01:00' };
  settings.dst = { ...settings.dst, activated: true };
  it('adds the DST offset between the last Sundays of March and October at 01:00Z', () => {
    expect(localOffsetMinutes(settings, Date.UTC(2024, 2, 31, 0, 59))).toBe(60);
    expect(localOffsetMinutes(settings, Date.UTC(2024, 2, 31, 1, 0))).toBe(120);
    expect(localOffsetMinutes(settings, Date.UTC(2024, 9, 27, 0, 59))).toBe(120);
    expect(localOffsetMinutes(settings, Date.UTC(2024, 9, 27, 1, 0))).toBe(60);
  });

  it('handles southern-hemisphere rules that wrap the year end, and ordinal days', () => {
    const south = { ...defaultSettings(false), tz: '+10:00' };
    south.dst = { activated: true, offset: 60, start: { order: 'first', day: 'sunday', month: 'october', hour: 'T16:00Z' }, end: { order: 'first', day: 'sunday', month: 'april', hour: 'T16:00Z' } };
    expect(localOffsetMinutes(south, Date.UTC(2024, 0, 15))).toBe(660);
    expect(localOffsetMinutes(south, Date.UTC(2024, 6, 15))).toBe(600);
    expect(localOffsetMinutes(south, Date.UTC(2024, 9, 6, 16, 0))).toBe(660); // first Sunday of October 2024 is the 6th
    expect(localOffsetMinutes(south, Date.UTC(2024, 9, 6, 15, 59))).toBe(600);
  });
});
