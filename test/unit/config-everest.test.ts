/**
 * EVerest drop-in (issue 16): a whole EVerest config file is a controller config; each LemDCBM400600 module is a
 * meter named by its module id, other modules are listed as ignored; a non-LEM module pasted as a meter is an error.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, parseControllerConfig } from '../../src/config/controller.config.js';

/** everest-core config/bringup/config-bringup-LEM.yaml, as of EVerest/everest-core@23c9dac (2026-05-06), verbatim. */
const BRINGUP_LEM = `settings:
  telemetry_enabled: false
active_modules:
  lem:
    config_module:
      ip_address: '192.168.1.2'
      ntp_server_1_ip_addr: ''
      ntp_server_1_port: 0
      ntp_server_2_ip_addr: ''
      ntp_server_2_port: 0
      cable_id: 6
      tariff_id: 0
      meter_dst: '{"activated": false, "offset": 60, "start": {"order": "last", "day": "sunday", "month": "march", "hour": "T01:00Z"}, "end": {"order": "last", "day": "sunday", "month": "october", "hour": "T01:00Z" }}'
      SC: 1
      UV: "user sw version"
      UD: "some text"
      temperature_warning_level_C: 40
      temperature_error_level_C: 50
    module: LemDCBM400600
  cli:
    config_module:
      evse_id: "api"
    module: BUPowermeter
    standalone: true
    connections:
      powermeter:
        - module_id: lem
          implementation_id: main
`;

/** A charger's config in the shape of the issue: two meters (one in the older config_implementation form), more modules. */
const CHARGER = `active_modules:
  powermeter_left:
    module: LemDCBM400600
    config_module:
      ip_address: 192.168.1.2
      port: 443
      meter_tls_certificate: /etc/everest/certs/dcbm-left.pem
      ntp_server_1_ip_addr: 192.168.1.1
    mapping:
      module: { evse: 1 }
  powermeter_right:
    module: LemDCBM400600
    config_implementation:
      main:
        ip_address: 192.168.1.3
  api:
    module: API
    connections:
      powermeter:
        - { module_id: powermeter_left, implementation_id: main }
  evse_manager_1:
    module: EvseManager
    config_module: { connector_id: 1 }
x-module-layout: {}
`;

const problemsOf = (input: unknown): string[] => {
  try {
    parseControllerConfig(input, 'everest.yaml', {});
  } catch (error) {
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
};

describe('EVerest config files', () => {
  it('takes everest-core\'s LEM bring-up config as it is (it was rejected: active_modules, settings, NTP port 0)', () => {
    const config = parseControllerConfig(parse(BRINGUP_LEM), 'config-bringup-LEM.yaml', {});
    expect(config.meters).toHaveLength(1);
    expect(config.meters[0]).toMatchObject({ name: 'lem', ip_address: '192.168.1.2', port: 80, cable_id: 6, SC: 1, UV: 'user sw version', temperature_error_level_C: 50, ntp_server_1_port: 0 });
    expect(config.notes).toEqual(['EVerest `settings` ignored (they configure the EVerest manager)', 'EVerest modules ignored (not LemDCBM400600): cli (BUPowermeter)']);
  });

  it('makes every LemDCBM400600 module a meter named by its module id, in either settings form', () => {
    const config = parseControllerConfig(parse(CHARGER), 'charger.yaml', {});
    expect(config.meters.map((m) => [m.name, m.ip_address, m.port, m.meter_tls_certificate])).toEqual([
      ['powermeter_left', '192.168.1.2', 443, '/etc/everest/certs/dcbm-left.pem'],
      ['powermeter_right', '192.168.1.3', 80, ''],
    ]);
    expect(config.notes).toEqual(['EVerest modules ignored (not LemDCBM400600): api (API), evse_manager_1 (EvseManager)']);
    expect(config.meterCertificateKeys).toEqual(['active_modules.powermeter_left.config_module.meter_tls_certificate', 'active_modules.powermeter_right.config_implementation.main.meter_tls_certificate']);
  });

  it('accepts the controller\'s own sections beside active_modules', () => {
    const config = parseControllerConfig({ ...parse(CHARGER) as object, feed: { port: 0 }, state_dir: '/var/lib/charger-controller' }, 'charger.yaml', {});
    expect(config).toMatchObject({ feed: { port: 0 }, stateDir: '/var/lib/charger-controller' });
  });

  it('reports problems at their path in the EVerest file', () => {
    expect(problemsOf({ active_modules: { lem: { module: 'LemDCBM400600', config_module: { ip_address: '10.0.0.2', ntp_server_1_ip_addr: '10.0.0.1', ntp_server_1_port: 0, cabel_id: 1 }, standalone: true } } }))
      .toEqual([
        'active_modules.lem.config_module.cabel_id: unknown key; did you mean `cable_id`?',
        'active_modules.lem.config_module.ntp_server_1_port: must be 1..65535 when ntp_server_1_ip_addr is set (got 0)',
      ]);
    expect(problemsOf({ active_modules: { lem: { module: 'LemDCBM400600', config_implementation: { main: { ip_address: 'a' }, other: {} } } } }))
      .toEqual(['active_modules.lem.config_implementation.other: unknown key; LemDCBM400600 provides one implementation, `main`']);
    expect(problemsOf({ active_modules: { 'a-module-id-that-is-far-too-long-for-a-name': { module: 'LemDCBM400600', config_module: { ip_address: 'a' } } } }))
      .toEqual([expect.stringMatching(/^active_modules\.a-module-id-that-is-far-too-long-for-a-name: the module id .* names the meter, and name must be 1–32 letters/)]);
  });

  it('needs at least one LemDCBM400600 module, and flags a misspelt one instead of ignoring it', () => {
    expect(problemsOf({ active_modules: { api: { module: 'API' } } })).toEqual(['active_modules: no LemDCBM400600 module (found api (API)): at least one meter is required']);
    expect(problemsOf({ active_modules: { lem: { module: 'LEMDCBM400600', config_module: { ip_address: 'a' } } } }))
      .toEqual(['active_modules.lem.module: "LEMDCBM400600" is not an EVerest module this controller drives; did you mean "LemDCBM400600"?']);
  });
});

describe('EVerest module entries pasted under meters:', () => {
  it('are an error when the module is not a LEM meter (GenericPowermeter was accepted as one)', () => {
    expect(problemsOf({ meters: [{ module: 'GenericPowermeter', config_module: { ip_address: '10.0.0.9' } }] }))
      .toEqual([expect.stringMatching(/^meters\.0\.module: "GenericPowermeter" is not a LEM DCBM meter: this controller drives LemDCBM400600 modules only/)]);
  });

  it('collide when two have no name, and the error names both (both were silently named "meter")', () => {
    const entry = (ip: string) => ({ module: 'LemDCBM400600', config_module: { ip_address: ip } });
    expect(problemsOf({ meters: [entry('10.0.0.2'), entry('10.0.0.3')] })).toEqual(['meters.0 and meters.1 are both named "meter" (the default name): give each meter its own `name`']);
    const config = parseControllerConfig({ meters: [{ ...entry('10.0.0.2'), name: 'left', evse_id: 'E1' }, { ...entry('10.0.0.3'), name: 'right' }] }, 'x', {});
    expect(config.meters.map((m) => [m.name, m.evse_id, m.ip_address])).toEqual([['left', 'E1', '10.0.0.2'], ['right', '', '10.0.0.3']]);
  });

  it('report unknown entry keys and a key set twice', () => {
    expect(problemsOf({ meters: [{ module: 'LemDCBM400600', name: 'm', config_modul: { ip_address: 'a' } }] })).toEqual(['meters.0.config_modul: unknown key; did you mean `config_module`?']);
    expect(problemsOf({ meters: [{ module: 'LemDCBM400600', name: 'm' }] })).toEqual(['meters.0.config_module: required: the LemDCBM400600 settings (at least ip_address)']);
    expect(problemsOf({ meters: [{ module: 'LemDCBM400600', config_module: { ip_address: 'a', port: 81 }, config_implementation: { main: { port: 82 } } }] }))
      .toEqual(['meters.0.config_implementation.main.port: also set in meters.0.config_module; keep one']);
  });
});
