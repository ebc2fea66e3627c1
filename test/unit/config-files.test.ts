/**
 * The files a config names are read and checked once, before anything connects (issue 16): a missing client
 * certificate was found only by `run` (ENOENT, no key named), and `meter_tls_certificate` could only be PEM text.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFiles, resolveConfigFiles } from '../../src/config/config-files.js';
import { ConfigError, loadControllerConfig, parseControllerConfig } from '../../src/config/controller.config.js';
import { createSelfSignedRsa } from '../../src/pki/certificate.js';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cc-config-files-'));
  dirs.push(dir);
  return dir;
}

const pki = createSep2Pki('config-files test');
const device = pki.issueDevice('CONFIG-FILES-1');
const other = pki.issueDevice('CONFIG-FILES-2');
const meterCert = createSelfSignedRsa({ commonName: 'LEM DCBM 1', bits: 1024 }).certPem;

const registration = (tls: { certificate: string; key: string; ca: string }) => ({
  server: { url: 'https://utility.example:8443' }, tls, mode: 'device', device: { der: { rtgMaxW: 1000 } },
});

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).problems;
}

describe('loadConfigFiles', () => {
  it('returns the PEM texts of the client certificate, key and CA, and of meter certificates given as paths', async () => {
    const dir = tempDir();
    for (const [name, text] of [['chain.pem', device.chainPem], ['key.pem', device.keyPem], ['serca.pem', pki.sercaPem], ['meter.pem', meterCert]]) writeFileSync(join(dir, name!), text!);
    const config = parseControllerConfig({
      meters: [{ name: 'left', ip_address: 'a', meter_tls_certificate: join(dir, 'meter.pem') }, { name: 'right', ip_address: 'b', meter_tls_certificate: meterCert }, { name: 'plain', ip_address: 'c' }],
      registration: registration({ certificate: join(dir, 'chain.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'serca.pem') }),
      state_dir: join(dir, 'state'),
    }, 'config', {});
    const files = await loadConfigFiles(config);
    expect(files).toEqual({ meterCertificates: [meterCert, meterCert, ''], registrationTls: { certPem: device.chainPem, keyPem: device.keyPem, caPem: pki.sercaPem } });
    const resolved = await resolveConfigFiles(config);
    expect(resolved.meters.map((m) => m.meter_tls_certificate)).toEqual([meterCert, meterCert, '']);
    expect(resolved.files).toEqual(files);
    expect(await resolveConfigFiles(resolved)).toBe(resolved);
  });

  it('names the key and the path of every missing or unusable file, all at once (run died with ENOENT)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'not-a-cert.pem'), 'hello\n');
    writeFileSync(join(dir, 'key.pem'), other.keyPem); // another device's key
    writeFileSync(join(dir, 'chain.pem'), device.chainPem);
    const config = parseControllerConfig({
      meters: [{ name: 'left', ip_address: 'a', meter_tls_certificate: join(dir, 'meter.pem') }, { name: 'right', ip_address: 'b', meter_tls_certificate: join(dir, 'not-a-cert.pem') }],
      registration: registration({ certificate: join(dir, 'chain.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'not-a-cert.pem') }),
      state_dir: join(dir, 'not-a-cert.pem', 'state'),
    }, 'config', {});
    expect(await problemsOf(loadConfigFiles(config, 'charger.yaml'))).toEqual([
      `meters.0.meter_tls_certificate: cannot read ${join(dir, 'meter.pem')}: no such file`,
      `meters.1.meter_tls_certificate: ${join(dir, 'not-a-cert.pem')} is not a PEM certificate: BEGIN/END CERTIFICATE lines are missing`,
      `registration.tls.key: ${join(dir, 'key.pem')} does not belong to the first certificate of registration.tls.certificate (SHA-256 ${new X509Certificate(device.certPem).fingerprint256})`,
      `registration.tls.ca: ${join(dir, 'not-a-cert.pem')} holds no PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)`,
      `state_dir: cannot create ${join(dir, 'not-a-cert.pem', 'state')}: ${join(dir, 'not-a-cert.pem')} is not a directory`,
    ]);
  });

  it('reports a missing registration.tls.certificate by its key', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'key.pem'), device.keyPem);
    writeFileSync(join(dir, 'serca.pem'), pki.sercaPem);
    const config = parseControllerConfig({ meters: [{ ip_address: 'a' }], registration: registration({ certificate: join(dir, 'chain.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'serca.pem') }), state_dir: dir }, 'c', {});
    expect(await problemsOf(loadConfigFiles(config))).toEqual([`registration.tls.certificate: cannot read ${join(dir, 'chain.pem')}: no such file`]);
  });

  it('reports a key file that is no key, and the path at its place in an EVerest file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'chain.pem'), device.chainPem);
    writeFileSync(join(dir, 'serca.pem'), pki.sercaPem);
    const config = parseControllerConfig({
      active_modules: { lem: { module: 'LemDCBM400600', config_module: { ip_address: 'a', meter_tls_certificate: join(dir, 'missing.pem') } } },
      registration: registration({ certificate: join(dir, 'chain.pem'), key: join(dir, 'serca.pem'), ca: join(dir, 'serca.pem') }), state_dir: dir,
    }, 'c', {});
    expect(await problemsOf(loadConfigFiles(config))).toEqual([
      `active_modules.lem.config_module.meter_tls_certificate: cannot read ${join(dir, 'missing.pem')}: no such file`,
      expect.stringMatching(new RegExp(`^registration\\.tls\\.key: ${join(dir, 'serca.pem').replace(/[.]/g, '\\.')} is not a usable PEM private key \\(`)),
    ]);
  });

  it('checks the --state-dir given instead of state_dir', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), '');
    const config = parseControllerConfig({ meters: [{ ip_address: 'a' }], state_dir: join(dir, 'file') }, 'c', {});
    expect(await loadConfigFiles(config, 'c', join(dir, 'state'))).toEqual({ meterCertificates: [''], registrationTls: undefined });
    expect(await problemsOf(loadConfigFiles(config))).toEqual([`state_dir: ${join(dir, 'file')} is not a directory`]);
  });
});

describe('loadControllerConfig with files', () => {
  it('reads and checks the files only when asked (journal commands need only state_dir)', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ meters: [{ ip_address: 'a', meter_tls_certificate: 'meter.pem' }], state_dir: dir }));
    expect((await loadControllerConfig(file, {})).meters[0]?.meter_tls_certificate).toBe('meter.pem');
    expect((await problemsOf(loadControllerConfig(file, {}, { files: true })))[0]).toMatch(/^meters\.0\.meter_tls_certificate: cannot read .*meter\.pem: no such file$/);
  });
});
