/**
 * `charger-controller register` from the compiled JavaScript: mock mode for the seed README's example system, a
 * real mutual-TLS registration against the test server, and config errors.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { certificateIdentity } from '../../src/adapters/sep2/identity.js';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';
import { startSep2Server, type Sep2Server } from '../../src/simulators/sep2-server/index.js';
import { xsd } from '../helpers/xsd.js';

const CLI = join(import.meta.dirname, '../../dist/src/cli.js');
const EXAMPLE = join(import.meta.dirname, '../../src/config/examples/seed-example.json');
const exec = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const servers: Sep2Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The bodies printed in mock output, in order. */
const bodies = (stdout: string): string[] => stdout.split('\n').filter((l) => l.startsWith('<?xml'));

describe('register --mock', () => {
  it('prints every request for the seed README example system, stable and schema-valid', async () => {
    const first = await cli(['register', '--mock', '--config', EXAMPLE]);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('LFDI 0x21352135135 has fewer than 40 hex digits');
    const requestLines = first.stdout.split('\n').filter((l) => /^(GET|POST|PUT) /.test(l));
    expect(requestLines).toEqual([
      'GET https://server-location/dcap', 'GET https://server-location/tm', 'GET https://server-location/edev?s=0&l=10', 'POST https://server-location/edev', 'GET https://server-location/edev/1',
      'PUT https://server-location/edev/1/di', 'GET https://server-location/edev/1/der?s=0&l=10', 'POST https://server-location/edev/1/der',
      'GET https://server-location/edev/1/der/1', 'PUT https://server-location/edev/1/der/1/dercap', 'PUT https://server-location/edev/1/cp',
    ]);
    expect(first.stdout).toContain('Content-Type: application/sep+xml');
    expect(first.stdout).toContain('Accept: application/sep+xml');
    expect(first.stdout).toContain('→ 201 Location: /edev/1');
    const [endDevice, deviceInformation, der, capability, connectionPoint] = bodies(first.stdout);
    expect(endDevice).toContain('<deviceCategory>040000</deviceCategory><lFDI>2135213513500000000000000000000000000000</lFDI><sFDI>89140805933</sFDI><changedTime>1700000000</changedTime>');
    expect(deviceInformation).toContain('<gpsLocation><lat>-35.0</lat><lon>144.0</lon></gpsLocation>');
    expect(deviceInformation).toContain('<mfInfo>Acme Corp</mfInfo><mfModel>Acme 2000 Pro+</mfModel><mfSerNum>ACME1234</mfSerNum>');
    expect(der).toBe('<?xml version="1.0" encoding="UTF-8"?><DER xmlns="urn:ieee:std:2030.5:ns"/>');
    expect(capability).toContain('<rtgMaxW><multiplier>0</multiplier><value>5000</value></rtgMaxW>');
    expect(connectionPoint).toContain('<csipaus:connectionPointId>NMI123</csipaus:connectionPointId>');
    if (xsd) for (const body of bodies(first.stdout)) expect(xsd.validate(body)).toEqual([]);
    expect(first.stdout).toContain('Summary: 1 registered, 0 failed, 1 sites');
    const second = await cli(['register', '--mock', '--config', EXAMPLE]);
    expect(second.stdout).toBe(first.stdout);
  });

  it('runs the same flow against an envoy-profile mock', async () => {
    const result = await cli(['register', '--mock', '--profile', 'envoy', '--config', EXAMPLE, '--now', '1800000000']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('PUT https://server-location/edev/1/di\nAccept: application/sep+xml\nContent-Type: application/sep+xml');
    expect(result.stdout).toMatch(/PUT https:\/\/server-location\/edev\/1\/di[\s\S]*?→ 404/);
    expect(result.stdout).toContain('<csipaus:doeModesSupported>0F</csipaus:doeModesSupported>');
    expect(result.stdout).toContain('<changedTime>1800000000</changedTime>');
  });
});

describe('register (mutual TLS)', () => {
  it('registers the charger as a device with the LFDI of its certificate', async () => {
    const pki = createSep2Pki();
    const serverCert = pki.issueServer(['127.0.0.1']);
    const device = pki.issueDevice('CHARGER-CLI');
    const server = await startSep2Server({ profile: 'envoy', tls: { keyPem: serverCert.keyPem, certPem: serverCert.certPem, caPem: pki.sercaPem } });
    servers.push(server);
    const dir = mkdtempSync(join(tmpdir(), 'cc-reg-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'chain.pem'), device.chainPem);
    writeFileSync(join(dir, 'key.pem'), device.keyPem);
    writeFileSync(join(dir, 'serca.pem'), pki.sercaPem);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      server: { url: server.url }, tls: { certificate: join(dir, 'chain.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'serca.pem') },
      mode: 'device', pin: 111115,
      device: { nmi: '4103861111', der: { rtgMaxW: 150000, settings: { setMaxW: 150000 }, status: {} } },
    }));
    const result = await cli(['register', '--config', join(dir, 'config.json')]);
    expect(result.code).toBe(0);
    const lfdi = certificateIdentity(device.certPem).lfdi;
    expect(result.stdout).toContain(`# client certificate LFDI ${lfdi}`);
    expect(result.stdout).toContain('Summary: 1 registered, 0 failed, 1 sites');
    expect(result.stderr).toContain('[site-1] putConnectionPoint');
    expect(result.stdout).not.toContain('PRIVATE KEY');
    expect(server.handler.state.sites.map((s) => [s.lfdi.toUpperCase(), s.nmi])).toEqual([[lfdi, '4103861111']]);
  });

  it('registers against `simulate sep-server` using the PKI it wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-sep-'));
    dirs.push(dir);
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [CLI, 'simulate', 'sep-server', '--port', '0', '--state-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const match = /"url":"(https:\/\/127\.0\.0\.1:\d+)"/.exec(out);
          if (match) resolve(match[1]!);
        });
        setTimeout(() => reject(new Error(`no listening line: ${out}`)), 10_000).unref();
      });
      writeFileSync(join(dir, 'config.json'), JSON.stringify({
        server: { url }, tls: { certificate: join(dir, 'client-chain.pem'), key: join(dir, 'client-key.pem'), ca: join(dir, 'serca.pem') },
        mode: 'device', device: { nmi: '4103861111', der: { rtgMaxW: 50000 } },
      }));
      const result = await cli(['register', '--config', join(dir, 'config.json')]);
      expect(result.stdout).toContain('Summary: 1 registered, 0 failed, 1 sites');
      expect(result.code).toBe(0);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  it('reports every config problem and exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-reg-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ server: { url: 'not a url' }, mode: 'aggregator', sites: [{ lfdi: '0xZZ', der: { rtgMaxW: -1 } }], colour: 1 }));
    const result = await cli(['register', '--config', join(dir, 'bad.json')]);
    expect(result.code).toBe(2);
    for (const key of ['server.url', 'sites.0.der.rtgMaxW', 'colour']) expect(result.stderr).toContain(key);
  });
});
