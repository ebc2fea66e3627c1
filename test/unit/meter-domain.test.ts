/** Pure meter-driver rules: EVerest unit conversion, clientId building, stop-time bounds, PEM repair. */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fixPemNewlines, pinCertificate } from '../../src/adapters/http/pinned-tls.js';
import { buildClientId, buildStartBody, stopTimeBounds, toPowermeter, truncateBytes } from '../../src/domain/powermeter.js';
import { createSelfSignedRsa } from '../../src/pki/certificate.js';

describe('toPowermeter', () => {
  it('converts the reference fixture (T-ctrl test_get_powermeter)', () => {
    const reading = toPowermeter({ voltage: 4.2, current: 4, power: 3, temperatureH: 0, temperatureL: 0, energyImportTotal: 1, energyExportTotal: 2, timestamp: '2023-09-10T21:10:08.068773' }, '');
    expect(reading).toEqual({
      timestamp: '2023-09-10T21:10:08.068773', meter_id: '',
      energy_Wh_import: { total: 1000 }, energy_Wh_export: { total: 2000 }, power_W: { total: 3000 },
      voltage_V: { DC: 4.2 }, current_A: { DC: 4 },
      temperatures: [{ temperature: 0, identification: 'temperatureH' }, { temperature: 0, identification: 'temperatureL' }],
    });
  });
});

describe('clientId and the start body', () => {
  it('builds the reference v1 body byte for byte', () => {
    const { body } = buildStartBody({ evse_id: 'mock_evse_id', transaction_id: 'mock_transaction_id', identification_status: 'ASSIGNED', identification_type: 'NONE', identification_flags: [] }, { tariffId: 0, cableId: 0, UV: '', UD: '', SC: 0 }, 'v1');
    expect(JSON.stringify(body)).toBe('{"evseId":"mock_evse_id","transactionId":"mock_transaction_id","clientId":",mock_transaction_id","tariffId":0,"cableId":0,"userData":""}');
  });

  it('builds the v2 body in the reference key order', () => {
    const { body } = buildStartBody({ evse_id: 'mock_evse_id', transaction_id: 'mock_transaction_id', identification_status: 'ASSIGNED', identification_type: 'NONE', identification_flags: [] }, { tariffId: 0, cableId: 0, UV: '', UD: '', SC: 0 }, 'v2');
    expect(JSON.stringify(body)).toBe('{"evseId":"mock_evse_id","transactionId":"mock_transaction_id","clientId":",mock_transaction_id","tariffId":0,"TT":"","UV":"","UD":"","cableId":0,"userData":"","SC":0}');
  });

  it('shortens the identification, never the transaction id', () => {
    const uuid = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
    expect(buildClientId('04E1A2B3C4', uuid)).toEqual({ clientId: `,${uuid}`, shortened: true });
    expect(buildClientId('04E1A2B3C4', 'tx-1')).toEqual({ clientId: '04E1A2B3C4,tx-1', shortened: false });
    expect(buildClientId('x'.repeat(40), 'tx-1').clientId).toBe(`${'x'.repeat(32)},tx-1`);
    expect(Buffer.byteLength(buildClientId('ä'.repeat(40), 'tx-1').clientId)).toBeLessThanOrEqual(37);
    expect(truncateBytes('aä', 2)).toBe('a'); // never splits a character
  });
});

describe('stopTimeBounds', () => {
  it('gives +2 min and +48 h − 1 min in the EVerest format', () => {
    const bounds = stopTimeBounds(Date.UTC(2026, 0, 1, 12, 0, 0, 123));
    expect(bounds).toEqual({ transaction_min_stop_time: '2026-01-01T12:02:00.123Z', transaction_max_stop_time: '2026-01-03T11:59:00.123Z' });
    expect(bounds.transaction_min_stop_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}.\d{3}Z$/);
  });
});

describe('fixPemNewlines', () => {
  const { certPem } = createSelfSignedRsa({ commonName: 'meter' });
  const [begin, end] = ['-----BEGIN CERTIFICATE-----', '-----END CERTIFICATE-----'];
  it.each([
    ['well-formed', certPem],
    ['missing the first newline', certPem.replace(`${begin}\n`, begin)],
    ['missing the last newline', certPem.replace(`\n${end}`, end)],
    ['missing both', certPem.replace(`${begin}\n`, begin).replace(`\n${end}`, end)],
    ['on one line with spaces', certPem.replace(/\n/g, ' ')],
  ])('repairs a PEM %s', (_name, pem) => {
    expect(fixPemNewlines(pem)).toBe(certPem);
    expect(pinCertificate(pem).fingerprint256).toBe(new X509Certificate(certPem).fingerprint256);
  });

  it('rejects text that is not a certificate', () => {
    expect(() => fixPemNewlines('hello')).toThrow(/BEGIN\/END/);
    expect(() => fixPemNewlines(`${begin}not*base64${end}`)).toThrow(/base64/);
  });
});
