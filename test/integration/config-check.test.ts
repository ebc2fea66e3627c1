/**
 * `config check` finds what `run` would fail on, and `run` fails on a config problem the way `config check` does:
 * exit 2 with the list, never a stack trace (issue 16). Compiled CLI against meter simulators over real sockets.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { meterSim } from '../helpers/meter-sim.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cc-config-check-'));
  dirs.push(dir);
  return dir;
}

/** `config check` and `run` on the same file: both exit 2 with the same problems, and no stack trace. */
async function bothReject(file: string): Promise<string> {
  const check = await runCli(['config', 'check', file]);
  const run = await runCli(['run', '--config', file, '--log-format', 'json']);
  expect([check.code, run.code]).toEqual([2, 2]);
  for (const { stderr } of [check, run]) {
    expect(stderr).toContain('is not a valid config:');
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  }
  expect(run.stderr).toBe(check.stderr);
  return check.stderr;
}

describe('config check and run agree', () => {
  it('reject a missing registration.tls.certificate, naming the key and the path (config check said valid; run died with ENOENT)', async () => {
    const dir = tempDir();
    const pki = createSep2Pki('config-check test');
    const device = pki.issueDevice('CHECK-1');
    writeFileSync(join(dir, 'key.pem'), device.keyPem);
    writeFileSync(join(dir, 'serca.pem'), pki.sercaPem);
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({
      meters: [{ name: 'left', ip_address: '127.0.0.1', port: 1 }], feed: { port: 0 }, state_dir: dir,
      registration: {
        server: { url: 'https://127.0.0.1:9' }, mode: 'device', device: { der: { rtgMaxW: 1000 } },
        tls: { certificate: join(dir, 'client-chain.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'serca.pem') },
      },
    }));
    const stderr = await bothReject(file);
    expect(stderr).toContain(`registration.tls.certificate: cannot read ${join(dir, 'client-chain.pem')}: no such file`);
  });

  it('reject meter_tls_certificate naming a missing file, and a file that is no certificate', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'meter.pem'), 'not a certificate\n');
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `meters:\n  - name: left\n    ip_address: 127.0.0.1\n    meter_tls_certificate: /etc/charger/meter.pem\n  - name: right\n    ip_address: 127.0.0.1\n    meter_tls_certificate: ${join(dir, 'meter.pem')}\nstate_dir: ${dir}\n`);
    const stderr = await bothReject(file);
    expect(stderr).toContain('meters.0.meter_tls_certificate: cannot read /etc/charger/meter.pem: no such file');
    expect(stderr).toContain(`meters.1.meter_tls_certificate: ${join(dir, 'meter.pem')} is not a PEM certificate: BEGIN/END CERTIFICATE lines are missing`);
  });

  it('list every problem in one run: a top-level typo, every unknown key, duplicate names (it stopped at the first)', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ feeds: { port: 0 }, meters: [{ ip_adress: 'x', prot: 80 }, { ip_address: 'y', cable_id: 9 }, { module: 'GenericPowermeter', config_module: { ip_address: 'z' } }] }));
    const stderr = await bothReject(file);
    for (const line of [
      '  - feeds: unknown key; did you mean `feed`?',
      '  - meters.0.ip_adress: unknown key; did you mean `ip_address`?',
      '  - meters.0.prot: unknown key; did you mean `port`?',
      '  - meters.0.ip_address: required',
      '  - meters.1.cable_id: must be at most 7 (got 9)',
      '  - meters.2.module: "GenericPowermeter" is not a LEM DCBM meter',
      '  - meters.0 and meters.1 are both named "meter" (the default name): give each meter its own `name`',
    ]) expect(stderr).toContain(line);
    expect(stderr).not.toContain('Expected never');
  });
});

describe('meter_tls_certificate as a path', () => {
  it('is read by config check and by run, which connects to the meter in HTTPS mode', async () => {
    const sim = await meterSim({ meterId: '2001', tls: true });
    const dir = tempDir();
    writeFileSync(join(dir, 'meter.pem'), sim.certificatePem);
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `meters:\n  - name: left\n    ip_address: 127.0.0.1\n    port: ${sim.port}\n    meter_tls_certificate: ${join(dir, 'meter.pem')}\nfeed:\n  port: 0\nstate_dir: ${dir}\n`);
    const check = await runCli(['config', 'check', file]);
    expect(check).toMatchObject({ code: 0, stdout: expect.stringContaining('valid. 1 meter(s): left (127.0.0.1') });
    expect(check.stdout).toContain('TLS pinned');
    const cli = spawnCli(['run', '--config', file, '--log-format', 'json']);
    const [connected] = await cli.waitForLog('meter connected');
    expect(connected).toMatchObject({ meter: 'left', meterId: '2001' });
    expect(sim.requests.entries().every((e) => e.tls)).toBe(true);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});

describe('an EVerest config file', () => {
  it('runs every LemDCBM400600 module as a meter named by its module id; the other modules are listed as ignored', async () => {
    const [a, b] = [await meterSim({ meterId: '3001' }), await meterSim({ meterId: '3002', tls: true })];
    const dir = tempDir();
    writeFileSync(join(dir, 'dcbm-right.pem'), b.certificatePem);
    const file = join(dir, 'everest.yaml');
    writeFileSync(file, `settings:
  telemetry_enabled: false
active_modules:
  powermeter_left:
    module: LemDCBM400600
    config_module:
      ip_address: 127.0.0.1
      port: ${a.port}
      ntp_server_1_port: 0
  powermeter_right:
    module: LemDCBM400600
    config_implementation:
      main:
        ip_address: 127.0.0.1
        port: ${b.port}
        meter_tls_certificate: ${join(dir, 'dcbm-right.pem')}
  api:
    module: API
    connections:
      powermeter:
        - module_id: powermeter_left
          implementation_id: main
  cli:
    module: BUPowermeter
    standalone: true
feed:
  port: 0
state_dir: ${dir}
`);
    const check = await runCli(['config', 'check', file]);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('valid. 2 meter(s): powermeter_left (127.0.0.1');
    expect(check.stdout).toContain('  note: EVerest modules ignored (not LemDCBM400600): api (API), cli (BUPowermeter)');
    const cli = spawnCli(['run', '--config', file, '--log-format', 'json']);
    const connected = await cli.waitForLog('meter connected', 2);
    expect(connected.map((l) => [l.meter, l.meterId]).sort()).toEqual([['powermeter_left', '3001'], ['powermeter_right', '3002']]);
    expect(cli.lines().some((l) => l.msg === 'EVerest modules ignored (not LemDCBM400600): api (API), cli (BUPowermeter)')).toBe(true);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});
