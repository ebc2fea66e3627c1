/**
 * `charger-controller run` as a process, from the compiled JavaScript: SIGHUP neither kills it (Node's default,
 * exit 129) nor passes silently; with a config file it applies a changed log.level and names what needs a
 * restart; SIGTERM still stops it with exit 0. The log format follows --log-format and CHARGER_LOG_FORMAT.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HANGUP_MESSAGE } from '../../src/commands/hangup.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { meterSim } from '../helpers/meter-sim.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cc-signals-'));
  dirs.push(dir);
  return dir;
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('run: SIGHUP', () => {
  it('keeps the embedded demo running, logs at warn that nothing is reloaded, and still stops on SIGTERM', async () => {
    const cli = spawnCli(['run', '--feed-port', '0', '--state-dir', freshDir()]);
    await cli.waitForLog('feed listening');
    cli.child.kill('SIGHUP');
    const [line] = await cli.waitForLog(HANGUP_MESSAGE);
    expect(line).toMatchObject({ level: 40, signal: 'SIGHUP', config: expect.stringContaining('embedded demo') });
    await settle(200);
    expect(cli.child.exitCode).toBeNull();
    expect(cli.child.signalCode).toBeNull();
    cli.child.kill('SIGHUP'); // every hang-up is answered
    await cli.waitForLog(HANGUP_MESSAGE, 2);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.output().stdout).toContain('"msg":"stopped"');
  });

  it('applies a changed log.level from the config file and names the changes that need a restart', async () => {
    const sim = await meterSim();
    const dir = freshDir();
    const file = join(dir, 'config.json');
    const config = (level: string, port: number) => JSON.stringify({
      meters: [{ name: 'left', evse_id: 'E1', ip_address: '127.0.0.1', port, reading_interval_ms: 200, warmup_ms: 0 }],
      log: { level }, feed: { port: 0 }, state_dir: dir,
    });
    writeFileSync(file, config('info', sim.port));
    const cli = spawnCli(['run', '--config', file]);
    await cli.waitForLog('meter connected');
    expect(cli.lines().some((l) => l.msg === 'state')).toBe(false); // debug lines are off at info

    writeFileSync(file, config('debug', sim.port + 1)); // a new level, and a meter change that needs a restart
    cli.child.kill('SIGHUP');
    const [line] = await cli.waitForLog(HANGUP_MESSAGE);
    expect(line).toMatchObject({ level: 40, logLevel: { from: 'info', to: 'debug' }, notApplied: ['meters'] });
    // The new level reaches the meter's own (child) logger: its state changes are logged at debug now.
    await cli.waitForLog('state');

    writeFileSync(file, '{ not json');
    cli.child.kill('SIGHUP');
    const [broken] = await cli.waitForLog(HANGUP_MESSAGE, 2).then((lines) => lines.slice(1));
    expect(broken).toMatchObject({ error: expect.stringContaining('nothing changed') });
    expect(cli.child.exitCode).toBeNull();
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });

  it('keeps the level --log-level set', async () => {
    const sim = await meterSim();
    const dir = freshDir();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ meters: [{ name: 'left', evse_id: 'E1', ip_address: '127.0.0.1', port: sim.port }], log: { level: 'debug' }, feed: { port: 0 }, state_dir: dir }));
    const cli = spawnCli(['run', '--config', file, '--log-level', 'info']);
    await cli.waitForLog('meter connected');
    cli.child.kill('SIGHUP');
    const [line] = await cli.waitForLog(HANGUP_MESSAGE);
    expect(line).toMatchObject({ logLevel: 'info (kept: set by --log-level)', notApplied: 'nothing else changed' });
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  });
});

describe('run: log format', () => {
  it('writes pretty lines with --log-format pretty (no colours into a pipe), JSON otherwise, and the token in neither', async () => {
    const token = 'format-token-0123456789abcdef';
    const sim = await meterSim();
    const dir = freshDir();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ meters: [{ name: 'left', evse_id: 'E1', ip_address: '127.0.0.1', port: sim.port }], feed: { port: 0 }, state_dir: dir }));
    const pretty = spawnCli(['run', '--config', file, '--log-format', 'pretty'], { CHARGER_FEED_TOKEN: token });
    const line = await pretty.line(/INFO: left: meter connected/);
    expect(line).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\] INFO: left: meter connected \{"meterId":"1211751603"/);
    expect(line).not.toContain('\u001b['); // stdout is a pipe: no colour codes
    pretty.child.kill('SIGTERM');
    expect(await pretty.exited).toBe(0);
    expect(pretty.output().stdout).toMatch(/INFO: stopped/);
    expect(pretty.output().stdout).not.toContain(token);

    const viaEnv = spawnCli(['run', '--config', file], { CHARGER_LOG_FORMAT: 'pretty' });
    await viaEnv.line(/INFO: left: meter connected/);
    viaEnv.child.kill('SIGTERM');
    expect(await viaEnv.exited).toBe(0);

    const json = spawnCli(['run', '--config', file, '--log-format', 'json'], { CHARGER_LOG_FORMAT: 'pretty' }); // the flag wins
    await json.waitForLog('meter connected');
    json.child.kill('SIGTERM');
    expect(await json.exited).toBe(0);

    expect(await runCli(['run', '--log-format', 'fancy'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--log-format must be one of pretty, json') });
    expect(await runCli(['run'], { CHARGER_LOG_FORMAT: 'xml' })).toMatchObject({ code: 2, stderr: expect.stringContaining('CHARGER_LOG_FORMAT must be one of pretty, json') });
  });
});
