/**
 * The command line's help and version, through the real CLI as a child process: `--version` and its aliases,
 * help for the commands that take a subcommand (journal, config, simulate), and the entry point (dist/src/bin.js)
 * refusing an old Node with a clear message instead of crashing on `node:sqlite`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'dist/src/bin.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function run(node: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A Node older than 24 on this machine, outside npm's PATH (npm scripts put the project's Node 24 first): every
 * `node` on PATH that is not under a node_modules folder, and the usual system locations.
 */
function oldNode(): { path: string; version: string } | undefined {
  const onPath = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir && !dir.includes('node_modules')).map((dir) => join(dir, 'node'));
  for (const path of new Set([...onPath, '/usr/bin/node', '/usr/local/bin/node', '/bin/node'])) {
    if (!existsSync(path)) continue;
    try {
      const version = execFileSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8', timeout: 5_000 }).trim();
      if (Number(version.split('.')[0]) < 24) return { path, version };
    } catch {
      // not runnable: try the next one
    }
  }
  return undefined;
}

describe('charger-controller --version', () => {
  it('prints the package version for --version, -V and version, and exits 0', async () => {
    for (const flag of ['--version', '-V', 'version']) {
      const result = await runCli([flag]);
      expect(result).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    }
  });

  it('runs exactly once through the entry point bin.js (one version line, not two)', async () => {
    expect(await run(process.execPath, [BIN, '--version'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('is listed in the top-level help', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/version, --version, -V\s+print the version/);
  });
});

describe('help for commands with subcommands', () => {
  it('journal --help, -h and help print both subcommands\' help and exit 0', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const result = await runCli(['journal', flag]);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('Usage: charger-controller journal <subcommand>');
      expect(result.stdout).toContain('Usage: charger-controller journal list [options]');
      expect(result.stdout).toContain('Usage: charger-controller journal export');
    }
  });

  it('config --help prints config check\'s help and exits 0', async () => {
    const result = await runCli(['config', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: charger-controller config <subcommand>');
    expect(result.stdout).toContain('Usage: charger-controller config check <file>');
  });

  it('simulate --help prints both targets\' help and exits 0', async () => {
    const result = await runCli(['simulate', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: charger-controller simulate meter');
    expect(result.stdout).toContain('Usage: charger-controller simulate sep-server');
  });

  it('a missing or unknown subcommand exits 2 with what is missing and the help on stderr', async () => {
    const journal = await runCli(['journal']);
    expect(journal.code).toBe(2);
    expect(journal.stdout).toBe('');
    expect(journal.stderr).toContain('journal needs one of: list, export');
    expect(journal.stderr).toContain('Usage: charger-controller journal list');
    const config = await runCli(['config']);
    expect(config.code).toBe(2);
    expect(config.stderr).toContain('config needs one of: check');
    expect(config.stderr).toContain('Usage: charger-controller config check <file>');
    const unknown = await runCli(['journal', 'delete']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('journal has no subcommand "delete"; it takes one of: list, export');
  });

  it('the subcommands\' own --help still works', async () => {
    expect((await runCli(['journal', 'list', '--help'])).stdout).toContain('Usage: charger-controller journal list');
    expect((await runCli(['config', 'check', '--help'])).code).toBe(0);
  });
});

describe('bin.js on an old Node', () => {
  const old = oldNode();
  if (!old) console.warn('skipped: no Node.js older than 24 on this machine (looked on PATH outside node_modules, /usr/bin, /usr/local/bin, /bin)');

  it.skipIf(!old)(`says Node 24 is needed and exits 1 instead of crashing (Node ${old?.version ?? '<24'} at ${old?.path ?? '-'})`, async () => {
    for (const args of [['--help'], ['run'], ['--version']]) {
      const result = await run(old!.path, [BIN, ...args]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `charger-controller needs Node.js 24 or later (this is v${old!.version}); `
          + 'install Node 24 LTS: https://nodejs.org or your distribution\'s nodejs 24 package\n',
      );
    }
  });
});
