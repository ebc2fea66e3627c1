/**
 * `charger-controller run` from the compiled JavaScript: the embedded demo with no hardware, a config file with
 * two meters against two simulators, and clear errors for a bad config.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';
import { meterSim } from '../helpers/meter-sim.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('charger-controller run', () => {
  it('runs the embedded demo with no config (meter and 2030.5 simulators) and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-run-'));
    dirs.push(dir);
    const cli = spawnCli(['run', '--feed-port', '0', '--state-dir', dir]);
    const [demo] = await cli.waitForLog('no config given: running the embedded demo against an in-process LEM DCBM simulator and 2030.5 test server (no hardware)');
    expect(String(demo?.meterSimulator)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(String(demo?.sep2Server)).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const [connected] = await cli.waitForLog('meter connected');
    expect(connected).toMatchObject({ meter: 'meter', meterId: '1211751603' });
    await cli.waitForLog('registered');
    const token = readFileSync(join(dir, 'feed-token'), 'utf8').trim();
    // A scan of the log: no token, no private key, no registration PIN.
    for (const secret of [token, 'PRIVATE KEY', '111115']) expect(cli.output().stdout).not.toContain(secret);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.output().stdout).toContain('"msg":"stopped"');
  });

  it('runs two meters from a config file', async () => {
    const [a, b] = [await meterSim({ meterId: '1001' }), await meterSim({ meterId: '1002', tls: true })];
    const dir = mkdtempSync(join(tmpdir(), 'cc-run-'));
    dirs.push(dir);
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({
      meters: [
        { name: 'left', evse_id: 'E1', ip_address: '127.0.0.1', port: a.port },
        { name: 'right', evse_id: 'E2', ip_address: '127.0.0.1', port: b.port, meter_tls_certificate: b.certificatePem },
      ],
      log: { level: 'info' },
      feed: { port: 0 },
      state_dir: dir,
    }));
    const check = spawnCli(['config', 'check', file]);
    expect(await check.exited).toBe(0);
    expect(check.output().stdout).toContain('valid. 2 meter(s): left (127.0.0.1');
    const cli = spawnCli(['run', '--config', file]);
    const connected = await cli.waitForLog('meter connected', 2);
    expect(connected.map((l) => [l.meter, l.meterId]).sort()).toEqual([['left', '1001'], ['right', '1002']]);
    expect(cli.output().stdout).not.toContain('BEGIN CERTIFICATE');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  });

  it('shuts down cleanly on SIGTERM during a transaction, leaving it open on the meter', async () => {
    const sim = await meterSim();
    const dir = mkdtempSync(join(tmpdir(), 'cc-run-'));
    dirs.push(dir);
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `meters:\n  - name: left\n    evse_id: E1\n    ip_address: 127.0.0.1\n    port: ${sim.port}\nfeed:\n  port: 0\nstate_dir: ${dir}\n`);
    const token = 'sigterm-token-0123456789';
    const cli = spawnCli(['run', '--config', file], { CHARGER_FEED_TOKEN: token });
    const [listening] = await cli.waitForLog('feed listening');
    await cli.waitForLog('meter connected');
    const { FeedClient } = await import('../helpers/feed-client.js');
    const client = new FeedClient(String(listening?.feed), { token });
    await client.next((m) => m.type === 'snapshot');
    expect((await client.command({ type: 'start_transaction', request: { evse_id: 'E1', transaction_id: 'tx-term', identification_status: 'ASSIGNED', identification_type: 'NONE', identification_flags: [] } })).payload.result.status).toBe('OK');
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.closed?.code).toBe(1001); // the feed said goodbye
    const lines = cli.output().stdout;
    expect(lines).toContain('a transaction stays open on the meter');
    expect(lines).toContain('"msg":"stopped"');
    expect(lines).not.toContain(token);
    expect(sim.device.store.running()?.transactionId).toBe('tx-term');
  });

  it('reports every problem of a bad config and exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-run-'));
    dirs.push(dir);
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ meters: [{ ip_address: '', port: 0 }, { name: 'meter', ip_address: 'x', cable_id: 9 }] }));
    const cli = spawnCli(['run', '--config', file]);
    expect(await cli.exited).toBe(2);
    const { stderr } = cli.output();
    expect(stderr).toContain('is not a valid config');
    expect(stderr).toContain('meters.0.ip_address');
    expect(stderr).toContain('meters.0.port');
    expect(stderr).toContain('meters.1.cable_id');
    const checked = spawnCli(['config', 'check', file]);
    expect(await checked.exited).toBe(2);
    expect(checked.output().stderr).toContain('meters.1.cable_id');
    const missing = spawnCli(['run', '--config', join(dir, 'nope.json')]);
    expect(await missing.exited).toBe(2);
    expect(missing.output().stderr).toContain('cannot read the file');
  });
});
