/**
 * Config problems as an operator reads them (issue 16): every problem of every section in one pass, every unknown
 * key with the key probably meant, no validator wording, duplicate meter names naming both entries, and the
 * checks `run` used to crash on (PEM text that is not a certificate, registration without TLS).
 */
import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../../src/config/config-problems.js';
import { ConfigError, parseControllerConfig } from '../../src/config/controller.config.js';
import { parseMeterConfig } from '../../src/config/meter.config.js';
import { createSelfSignedRsa } from '../../src/pki/certificate.js';

const problemsOf = (input: unknown): string[] => {
  try {
    parseControllerConfig(input, 'test.yaml', {});
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
};

describe('config problems', () => {
  it('a top-level typo does not hide the problems of the meters (it stopped at `feeds`)', () => {
    const problems = problemsOf({ feeds: { port: 1 }, meters: [{ ip_address: '10.0.0.2', cable_id: 9 }, { ip_address: '', port: 0 }] });
    expect(problems).toContain('feeds: unknown key; did you mean `feed`?');
    expect(problems).toContain('meters.0.cable_id: must be at most 7 (got 9)');
    expect(problems).toContain('meters.1.ip_address: ip_address is required');
    expect(problems).toContain('meters.1.port: must be at least 1 (got 0)');
  });

  it('reports every unknown key of an object, not only the first, each with a suggestion', () => {
    const problems = problemsOf({ meters: [{ ip_addres: '10.0.0.2', prot: 80, comand_timeout_ms: 2000, colour: 'blue' }], logg: { level: 'info' } });
    expect(problems).toEqual(expect.arrayContaining([
      'logg: unknown key; did you mean `log`?',
      'meters.0.ip_addres: unknown key; did you mean `ip_address`?',
      'meters.0.prot: unknown key; did you mean `port`?',
      'meters.0.comand_timeout_ms: unknown key; did you mean `command_timeout_ms`?',
      'meters.0.colour: unknown key',
      'meters.0.ip_address: required',
    ]));
  });

  it('never uses the validator\'s wording', () => {
    const problems = problemsOf({
      meters: [{ ip_address: 'm', port: '80', api_version: 'v3', meter_dst: '{"activated": true, "ofset": 60}' }],
      feed: { porrt: 1, heartbeat_ms: 1.5 }, log: { level: 'verbose' }, state_dir: '',
    });
    const text = problems.join('\n');
    expect(text).not.toMatch(/Expected never|Invalid (key|type|value)|Expected \(/);
    expect(problems).toEqual(expect.arrayContaining([
      'meters.0.port: must be a number (got "80")',
      'meters.0.api_version: must be one of "auto", "v1", "v2" (got "v3")',
      'meters.0.meter_dst.ofset: unknown key',
      'meters.0.meter_dst.offset: required',
      'feed.porrt: unknown key; did you mean `port`?',
      'feed.heartbeat_ms: must be a whole number (got 1.5)',
      'log.level: must be one of "trace", "debug", "info", "warn", "error", "fatal" (got "verbose")',
    ]));
  });

  it('points a meter key put at the top level to meters:', () => {
    expect(problemsOf({ ip_address: '10.0.0.2' })).toEqual(expect.arrayContaining([
      'ip_address: unknown key; `ip_address` is a meter setting: put it in an entry under `meters:`',
      'meters: required: at least one meter (or give an EVerest config whose active_modules include a LemDCBM400600 module)',
    ]));
  });

  it('reports unknown keys of the registration section with suggestions, all of them', () => {
    const problems = problemsOf({
      meters: [{ ip_address: 'm' }],
      registration: { server: { url: 'https://u.example', timeout: 5 }, tls: { certificate: 'c', key: 'k', ca: 'a', cert: 'x', chain: 'y' }, mode: 'device', device: { der: { rtgMaxW: 1, rtgMaxWatts: 2 } } },
    });
    expect(problems).toEqual(expect.arrayContaining([
      'registration.server.timeout: unknown key; did you mean `timeoutMs`?',
      'registration.tls.cert: unknown key; did you mean `certificate`?',
      'registration.tls.chain: unknown key; this section takes `certificate`, `key`, `ca`',
      'registration.device.der.rtgMaxWatts: unknown key; did you mean `rtgMaxW`?',
    ]));
  });

  it('needs registration.tls for run (startController threw "registration needs tls...")', () => {
    expect(problemsOf({ meters: [{ ip_address: 'm' }], registration: { server: { url: 'https://u.example' }, device: { der: { rtgMaxW: 1 } } } }))
      .toEqual([expect.stringMatching(/^registration\.tls: required by run: mutual TLS needs \{ certificate, key, ca \}/)]);
  });

  it('names both entries of a duplicate meter name', () => {
    expect(problemsOf({ meters: [{ ip_address: 'a' }, { ip_address: 'b' }] }))
      .toEqual(['meters.0 and meters.1 are both named "meter" (the default name): give each meter its own `name`']);
    expect(problemsOf({ meters: [{ name: 'left', ip_address: 'a' }], active_modules: { left: { module: 'LemDCBM400600', config_module: { ip_address: 'b' } } } }))
      .toEqual(['meters.0 and active_modules.left are both named "left": give each meter its own `name`']);
  });

  it('checks meter_tls_certificate PEM text when the config is parsed (run died with "not a PEM certificate")', () => {
    const problems = problemsOf({ meters: [{ ip_address: 'm', meter_tls_certificate: '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n' }] });
    expect(problems).toEqual([expect.stringMatching(/^meters\.0\.meter_tls_certificate: not a PEM certificate: the body is not base64 \(give the meter's PEM text, or the path of a file holding it\)$/)]);
    // A path is accepted here; the file is read and checked by loadConfigFiles.
    const config = parseControllerConfig({ meters: [{ ip_address: 'm', meter_tls_certificate: '/etc/charger/meter.pem' }] }, 'test', {});
    expect(config.meters[0]?.meter_tls_certificate).toBe('/etc/charger/meter.pem');
    const { certPem } = createSelfSignedRsa({ commonName: 'meter', bits: 1024 });
    expect(parseControllerConfig({ meters: [{ ip_address: 'm', meter_tls_certificate: certPem }] }, 'test', {}).meters[0]?.meter_tls_certificate).toBe(certPem);
  });

  it('keeps the problem paths of a pasted module entry where they are in the file', () => {
    const result = parseMeterConfig({ module: 'LemDCBM400600', config_module: { ip_address: 'm', port: 0 }, modul: 'x' });
    expect(result).toEqual({ ok: false, problems: ['modul: unknown key; did you mean `module`?', 'config_module.port: must be at least 1 (got 0)'] });
  });
});

describe('suggestions', () => {
  it('measure typos by edit distance, with adjacent swaps, and do not guess for short or distant words', () => {
    expect(editDistance('feeds', 'feed')).toBe(1);
    expect(editDistance('prot', 'port')).toBe(1);
    expect(closest('feeds', ['meters', 'feed', 'log'])).toBe('feed');
    expect(closest('STATE_DIR', ['state_dir'])).toBe('state_dir');
    expect(closest('v3', ['auto', 'v1', 'v2'])).toBeUndefined();
    expect(closest('colour', ['port', 'name', 'interface'])).toBeUndefined();
  });
});
