/**
 * The logger's two formats: the choice (flag, then CHARGER_LOG_FORMAT, then terminal or not), pretty lines from
 * pino-pretty as an in-process stream, JSON lines otherwise, and redaction of secrets in both. Also the OCMF
 * summary the stop line and the export carry (energy and duration from the signed readings).
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { summarizeOcmf, ocmfTimeToIso } from '../../src/domain/ocmf-summary.js';
import { chooseLogFormat, createLogger, prettyStream } from '../../src/logger.js';

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  return { stream, text: () => text };
}

describe('log format choice', () => {
  it('takes the flag, then CHARGER_LOG_FORMAT, then pretty on a terminal and JSON otherwise', () => {
    expect(chooseLogFormat('json', 'pretty', true)).toBe('json');
    expect(chooseLogFormat(undefined, 'pretty', false)).toBe('pretty');
    expect(chooseLogFormat(undefined, 'json', true)).toBe('json');
    expect(chooseLogFormat(undefined, undefined, true)).toBe('pretty');
    expect(chooseLogFormat(undefined, undefined, false)).toBe('json');
    expect(chooseLogFormat(undefined, '', false)).toBe('json');
    expect(() => chooseLogFormat(undefined, 'yaml', false)).toThrow('CHARGER_LOG_FORMAT must be one of pretty, json, got "yaml"');
  });
});

describe('pretty lines', () => {
  it('prints one readable line per record with the meter first, and redacts secrets before formatting', async () => {
    const out = collect();
    const log = createLogger({ level: 'info', stream: await prettyStream({ destination: out.stream, colorize: false }) });
    log.child({ meter: 'evse1' }).info({ transactionId: 'tx-1', energyKWh: 12.5, durationS: 3600 }, 'transaction stop');
    log.child({ component: 'feed' }).warn({ token: 'secret-token-value', headers: { authorization: 'Bearer abc' }, feed: { token: 'x' } }, 'careful');
    log.debug('not shown at info');
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\] INFO: evse1: transaction stop \{"transactionId":"tx-1","energyKWh":12.5,"durationS":3600\}$/);
    expect(lines[1]).toMatch(/WARN: feed: careful /);
    expect(out.text()).not.toContain('secret-token-value');
    expect(out.text()).not.toContain('Bearer abc');
    expect(lines[1]).toContain('"token":"[redacted]"');
  });

  it('colours the level when asked (a terminal)', async () => {
    const out = collect();
    const log = createLogger({ stream: await prettyStream({ destination: out.stream, colorize: true }) });
    log.error('boom');
    expect(out.text()).toContain('\u001b[31mERROR');
  });
});

describe('JSON lines', () => {
  it('writes one JSON object per record with ISO time, and redacts the same secrets', () => {
    const out = collect();
    const log = createLogger({ level: 'info', stream: out.stream });
    log.info({ password: 'hunter2', nested: { keyPem: '-----BEGIN' } }, 'hello');
    const record = JSON.parse(out.text()) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 30, msg: 'hello', name: 'charger-controller', password: '[redacted]', nested: { keyPem: '[redacted]' } });
    expect(String(record.time)).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });
});

describe('OCMF summary', () => {
  const record = (rd: unknown[]) => `OCMF|${JSON.stringify({ FV: '1.0', RD: rd })}|{"SA":"ECDSA-secp256r1-SHA256","SD":"00"}`;

  it('reads energy and duration from the begin and end readings of the same register', () => {
    const text = record([
      { TM: '2026-03-01T10:00:00,000+0100 R', TX: 'B', RV: 100.123, RI: '1-0:1.8.0', RU: 'kWh', ST: 'G' },
      { RV: 5, RI: '1-0:2.8.0', RU: 'kWh', ST: 'G' },
      { TM: '2026-03-01T11:30:05,500+0100 R', TX: 'E', RV: 125.456, RI: '1-0:1.8.0', RU: 'kWh', ST: 'G' },
      { RV: 5, RI: '1-0:2.8.0', RU: 'kWh', ST: 'G' },
    ]);
    expect(summarizeOcmf(text)).toEqual({
      energyKWh: 25.333, durationS: 5406, register: '1-0:1.8.0', beganAt: '2026-03-01T10:00:00.000+01:00', endedAt: '2026-03-01T11:30:05.500+01:00', final: true,
    });
  });

  it('converts Wh, marks an intermediate record, and gives up on what it cannot read', () => {
    const wh = record([{ TM: '2026-03-01T10:00:00,000+0000 S', TX: 'B', RV: 1000, RI: '1-0:1.8.0', RU: 'Wh' }, { TM: 'garbage', TX: 'C', RV: 3500, RI: '1-0:1.8.0', RU: 'Wh' }]);
    expect(summarizeOcmf(wh)).toMatchObject({ energyKWh: 2.5, durationS: undefined, final: false });
    expect(summarizeOcmf('not ocmf')).toBeUndefined();
    expect(summarizeOcmf('OCMF|{bad json|{}')).toBeUndefined();
    expect(summarizeOcmf(record([{ TX: 'B', RV: 1, RI: '1-0:1.8.0', RU: 'kWh' }]))).toBeUndefined();
    expect(summarizeOcmf(record([{ TX: 'B', RV: 1, RI: '1-0:1.8.0', RU: 'furlong' }, { TX: 'E', RV: 2, RI: '1-0:1.8.0', RU: 'furlong' }]))).toBeUndefined();
    expect(ocmfTimeToIso('2026-03-01T10:00:00+0530 U')).toBe('2026-03-01T10:00:00.000+05:30');
  });
});
