/** Meter configuration: EVerest manifest keys, defaults, ranges, pasted module entries, clear problem lists. */
import { describe, expect, it } from 'vitest';
import { parseMeterConfig } from '../../src/config/meter.config.js';
import { DEFAULT_DST } from '../../src/domain/dst.js';

describe('parseMeterConfig', () => {
  it('applies the reference defaults', () => {
    const result = parseMeterConfig({ ip_address: '192.168.1.2' });
    expect(result).toMatchObject({ ok: true, value: {
      ip_address: '192.168.1.2', port: 80, interface: '', meter_tls_certificate: '', ntp_server_1_ip_addr: '', ntp_server_1_port: 123,
      ntp_server_2_ip_addr: '', ntp_server_2_port: 123, meter_timezone: '+00:00', meter_dst: DEFAULT_DST,
      resilience_initial_connection_retries: 25, resilience_initial_connection_retry_delay: 10_000,
      resilience_transaction_request_retries: 3, resilience_transaction_request_retry_delay: 250,
      cable_id: 0, tariff_id: 0, IT: -1, SC: 0, UV: '', UD: '',
      temperature_warning_level_C: 5000, temperature_error_level_C: 5000, temperature_hysteresis_K: 3, temperature_min_time_as_valid_ms: 5000,
      command_timeout_ms: 5000, name: 'meter', api_version: 'auto', reading_interval_ms: 1000, warmup_ms: 120_000,
    } });
  });

  it('takes an EVerest module entry as it is, meter_dst as a JSON string', () => {
    const everest = {
      module: 'LemDCBM400600',
      config_implementation: { main: {
        ip_address: '192.168.1.2', cable_id: 6, SC: 1, UV: 'user sw version', UD: 'some text',
        temperature_warning_level_C: 40, temperature_error_level_C: 50,
        meter_dst: '{"activated": true, "offset": 60, "start": {"order": "last", "day": "sunday", "month": "march", "hour": "T01:00Z"}, "end": {"order": "last", "day": "sunday", "month": "october", "hour": "T01:00Z" }}',
      } },
    };
    const result = parseMeterConfig(everest);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.value).toMatchObject({ cable_id: 6, SC: 1, UV: 'user sw version', temperature_warning_level_C: 40 });
      expect(result.value.meter_dst).toMatchObject({ activated: true, offset: 60 });
    }
  });

  it('reads an empty meter_dst as "no DST write"', () => {
    const result = parseMeterConfig({ ip_address: 'meter.local', meter_dst: '' });
    expect(result.ok && result.value.meter_dst).toBeNull();
  });

  it('raises the error level to the warning level', () => {
    const result = parseMeterConfig({ ip_address: 'm', temperature_warning_level_C: 60, temperature_error_level_C: 50 });
    expect(result.ok && result.value.temperature_error_level_C).toBe(60);
  });

  it('reports every invalid key at once', () => {
    const result = parseMeterConfig({
      ip_address: '', port: 70000, cable_id: 8, tariff_id: -1, IT: 18, command_timeout_ms: 500, meter_timezone: '+15:00',
      meter_dst: '{not json', resilience_transaction_request_retries: 1.5, colour: 'blue',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.problems.join('\n');
    for (const key of ['ip_address', 'port', 'cable_id', 'tariff_id', 'IT', 'command_timeout_ms', 'meter_timezone', 'meter_dst', 'resilience_transaction_request_retries', 'colour']) {
      expect(text).toContain(key);
    }
    expect(result.problems.length).toBeGreaterThanOrEqual(10);
  });
});
