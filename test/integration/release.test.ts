/**
 * The release artifact and the systemd unit, as a charger gets them. One `npm pack` of the compiled project
 * (dist/ must be built, as `npm test` does first) is installed with `npm install -g --prefix <tmp> --omit=dev`,
 * the way the README installs it under /opt/charger-controller; then the installed `charger-controller` runs on
 * Node 24 (this process's node): --version, config check of the shipped example, diagrams, and the embedded demo
 * until the feed listens and the meter is connected, then SIGTERM and exit 0.
 * `deploy/charger-controller.service` is checked with `systemd-analyze verify` (any output fails the test), with
 * its ExecStart pointed at this node and the temporary install; plus the checks verify does not make (trailing
 * comments, the node flags, paths that must agree with the env file, the example config and the README).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROLLER_NODE_FLAGS } from '../../src/runtime-flags.js';

const execFileAsync = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string; version: string; scripts: Record<string, string>; devDependencies: Record<string, string>;
};
const UNIT_FILE = join(ROOT, 'deploy/charger-controller.service');
const ENV_FILE = join(ROOT, 'deploy/charger-controller.env');
const EXAMPLE_CONFIG = join(ROOT, 'deploy/controller.example.yaml');
/** Where the README installs the package (npm install -g --prefix /opt/charger-controller). */
const INSTALL_PREFIX = '/opt/charger-controller';

/** npm itself, run on this Node 24 (not the host's Node 20, which would warn that the package wants Node 24). */
function npm(args: string[], cwd: string) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_(config|lifecycle|package)_/i.test(key) || key === 'npm_config_cache'));
  const cli = process.env.npm_execpath;
  return cli && /npm-cli\.js$/.test(cli)
    ? execFileAsync(process.execPath, [cli, ...args], { cwd, env, maxBuffer: 16 * 1024 * 1024 })
    : execFileAsync('npm', args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
}

function exec(file: string, args: string[], env: Record<string, string> = {}) {
  return execFileAsync(file, args, { env: { ...process.env, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? -1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
  );
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

let work: string;
let prefix: string;
let pkgDir: string;
let installedBinJs: string;
let packed: { filename: string; size: number; unpackedSize: number; files: { path: string }[] };
let installWarnings: string;
const timings: Record<string, number> = {};

beforeAll(async () => {
  const t0 = Date.now();
  work = mkdtempSync(join(tmpdir(), 'cc-release-'));
  prefix = join(work, 'prefix');
  // --ignore-scripts: prepack would rebuild dist/ while the other suites run the CLI from it; npm test built it.
  const pack = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT);
  packed = (JSON.parse(pack.stdout) as (typeof packed)[])[0]!;
  timings.pack = Date.now() - t0;
  const t1 = Date.now();
  const install = await npm(['install', '--global', '--prefix', prefix, '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename)], work);
  installWarnings = install.stderr;
  timings.install = Date.now() - t1;
  pkgDir = join(prefix, 'lib/node_modules', PKG.name);
  installedBinJs = join(pkgDir, 'dist/src/bin.js');
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('release tarball (npm pack)', () => {
  it('holds the compiled JavaScript, the inspector page and deploy/, and nothing else', () => {
    const paths = packed.files.map((f) => f.path);
    for (const expected of ['package.json', 'README.md', 'dist/src/bin.js', 'dist/src/cli.js', 'dist/src/main.js', 'dist/machines/index.js',
      'src/inspector/index.html', 'deploy/charger-controller.service', 'deploy/charger-controller.env', 'deploy/controller.example.yaml']) {
      expect(paths).toContain(expected);
    }
    const allowed = /^(package\.json|README\.md|LICENSE|src\/inspector\/index\.html|deploy\/[^/]+|dist\/(src|machines)\/.+\.js)$/;
    expect(paths.filter((p) => !allowed.test(p))).toEqual([]);
    expect(paths.filter((p) => p.startsWith('dist/src/bench/') || p.startsWith('test/') || p.endsWith('.ts') || p.endsWith('.map'))).toEqual([]);
    // No Node binary: node@24 is a devDependency (126 MB); the charger brings its own Node 24.
    expect(packed.size).toBeLessThan(1024 * 1024);
  });

  it('installs with production dependencies only: no Node binary, no devDependency, nothing native or architecture-bound', () => {
    // No "install scripts not yet covered by allowScripts" (a prepare script in the tarball causes it), no EBADENGINE.
    expect(installWarnings).toBe('');
    expect(existsSync(installedBinJs)).toBe(true);
    const modules = join(pkgDir, 'node_modules');
    for (const dev of Object.keys(PKG.devDependencies)) expect(existsSync(join(modules, dev)), `devDependency ${dev} installed`).toBe(false);
    const files = filesUnder(modules);
    const native = files.filter((f) => f.endsWith('.node') || f.endsWith('/binding.gyp')).map((f) => relative(modules, f));
    const withInstallScripts = files.filter((f) => f.endsWith('/package.json')).flatMap((f) => {
      const manifest = JSON.parse(readFileSync(f, 'utf8')) as { name?: string; scripts?: Record<string, string> };
      const hooks = ['preinstall', 'install', 'postinstall'].filter((hook) => typeof manifest.scripts?.[hook] === 'string');
      return hooks.length ? [`${relative(modules, f)}: ${hooks.join(', ')}`] : [];
    });
    expect({ native, withInstallScripts }).toEqual({ native: [], withInstallScripts: [] });
    const installedBytes = filesUnder(prefix).reduce((sum, f) => sum + statSync(f).size, 0);
    console.info(`release: tarball ${packed.filename} ${(packed.size / 1024).toFixed(0)} kB (${packed.files.length} files, unpacked ${(packed.unpackedSize / 1024).toFixed(0)} kB); `
      + `installed ${(installedBytes / 1024 / 1024).toFixed(1)} MB; npm pack ${timings.pack} ms, npm install ${timings.install} ms`);
  });

  it('the installed charger-controller runs through its bin link on Node 24', async () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
    const bin = join(prefix, 'bin', 'charger-controller');
    const result = await exec(bin, ['--version'], { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` });
    expect(result).toEqual({ code: 0, stdout: `${PKG.version}\n`, stderr: '' });
  });

  it('checks the shipped example config and draws the diagrams from the installed package', async () => {
    const check = await exec(process.execPath, [installedBinJs, 'config', 'check', join(pkgDir, 'deploy/controller.example.yaml')]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain('valid. 2 meter(s)');
    const out = join(work, 'viz');
    const viz = await exec(process.execPath, [installedBinJs, 'diagrams', '--out', out]);
    expect(viz.code, viz.stderr).toBe(0);
    expect(readdirSync(out).filter((f) => f.endsWith('.svg')).length).toBeGreaterThan(0);
  });

  it('runs the embedded demo with the unit\'s node flags until the meter is connected, serves the inspector, and exits 0 on SIGTERM', async () => {
    const state = join(work, 'state');
    mkdirSync(state);
    const child: ChildProcess = spawn(process.execPath, [...CONTROLLER_NODE_FLAGS, installedBinJs, 'run', '--feed-port', '0', '--state-dir', state],
      { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const logged = async (msg: string): Promise<Record<string, unknown>> => {
        for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
          const line = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === msg);
          if (line) return line;
        }
        throw new Error(`no "${msg}" log line; stdout: ${stdout} stderr: ${stderr}`);
      };
      const listening = await logged('feed listening');
      await logged('meter connected');
      const page = await fetch(String(listening.inspector));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      expect(stdout).toContain('"msg":"stopped"');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});

/** The unit's `Key=value` lines, section by section; throws on anything that is not a key, a section or a comment. */
function unitEntries(text: string): { section: string; key: string; value: string; line: number }[] {
  let section = '';
  return text.split('\n').flatMap((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return [];
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      return [];
    }
    const entry = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!entry) throw new Error(`line ${index + 1} is not Key=value: ${raw}`);
    return [{ section, key: entry[1]!, value: entry[2]!, line: index + 1 }];
  });
}

describe('systemd unit (deploy/charger-controller.service)', () => {
  const text = readFileSync(UNIT_FILE, 'utf8');
  const entries = unitEntries(text);
  const value = (key: string): string | undefined => entries.find((e) => e.key === key)?.value;
  const execStart = (value('ExecStart') ?? '').split(/\s+/);

  it('has comments only on their own lines (systemd would take "# ..." into the value)', () => {
    expect(entries.filter((e) => e.value.includes('#')).map((e) => `${e.line}: ${e.key}=${e.value}`)).toEqual([]);
  });

  it('runs bin.js from the npm global layout with the flags of src/runtime-flags.ts (as npm start does)', () => {
    const [node, ...rest] = execStart;
    expect(node).toBe('node');
    expect(rest.slice(0, CONTROLLER_NODE_FLAGS.length)).toEqual([...CONTROLLER_NODE_FLAGS]);
    expect(PKG.scripts.start).toBe(`node ${CONTROLLER_NODE_FLAGS.join(' ')} dist/src/bin.js run`);
    const script = rest[CONTROLLER_NODE_FLAGS.length]!;
    expect(script).toBe(`${INSTALL_PREFIX}/lib/node_modules/${PKG.name}/dist/src/bin.js`);
    // The same relative path exists in the real install of this test's tarball.
    expect(existsSync(join(prefix, relative(INSTALL_PREFIX, script)))).toBe(true);
    expect(rest.slice(CONTROLLER_NODE_FLAGS.length + 1)).toEqual(['run', '--config', '/etc/charger-controller/controller.yaml', '--state-dir', '/var/lib/charger-controller']);
  });

  it('keeps its state in a relative StateDirectory= that --state-dir, WorkingDirectory= and the example config agree on', () => {
    expect(value('StateDirectory')).toBe('charger-controller');
    expect(value('WorkingDirectory')).toBe('/var/lib/charger-controller');
    expect(readFileSync(EXAMPLE_CONFIG, 'utf8')).toMatch(/^state_dir: \/var\/lib\/charger-controller$/m);
  });

  it('runs as a dedicated user, restarts on failure, stops well after the 10 s shutdown, and is hardened', () => {
    expect(value('User')).toBe('charger-controller');
    expect(value('Restart')).toBe('on-failure');
    expect(value('ExecReload')).toBe('kill -HUP $MAINPID');
    expect(Number(value('TimeoutStopSec'))).toBeGreaterThanOrEqual(20);
    for (const [key, expected] of [['ProtectSystem', 'strict'], ['NoNewPrivileges', 'yes'], ['PrivateTmp', 'yes'], ['ProtectHome', 'yes']] as const) {
      expect(value(key), key).toBe(expected);
    }
    // V8's JIT needs writable and executable memory.
    expect(value('MemoryDenyWriteExecute')).toBeUndefined();
  });

  it('reads the shipped env file, which sets only variables the controller reads, one per line', () => {
    expect(value('EnvironmentFile')).toBe('/etc/charger-controller/charger-controller.env');
    const lines = readFileSync(ENV_FILE, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(lines.map((l) => /^([A-Z_][A-Z0-9_]*)=[^#\s]*$/.exec(l)?.[1])).toEqual(['CHARGER_FEED_TOKEN']);
  });

  it('is what the README installs: no inline unit, the same paths', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(/^\[Service\]$/m.test(readme), 'README still has an inline unit').toBe(false);
    for (const needle of ['deploy/charger-controller.service', 'deploy/charger-controller.env', '/etc/charger-controller/controller.yaml',
      '/etc/charger-controller/charger-controller.env', `--prefix ${INSTALL_PREFIX}`, 'useradd --system', 'journalctl -u charger-controller']) {
      expect(readme.includes(needle), `README mentions ${needle}`).toBe(true);
    }
  });

  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
  if (!analyze && process.env.CI) throw new Error('systemd-analyze is missing: .ci/run installs the Debian package "systemd"');
  if (!analyze) console.warn('skipped: systemd-analyze not found (apt-get install -y systemd; .ci/run installs it)');

  it.skipIf(!analyze)('passes systemd-analyze verify with no output at all (ExecStart pointed at this node and the test install)', async () => {
    // verify checks that ExecStart's executable exists; the charger's "node" and /opt/charger-controller are
    // replaced by this process's Node 24 and the temporary install, and nothing else changes.
    const script = execStart[CONTROLLER_NODE_FLAGS.length + 1]!;
    const local = text.replace(/^ExecStart=node /m, `ExecStart=${process.execPath} `).replace(script, join(prefix, relative(INSTALL_PREFIX, script)));
    expect(local.split('\n').filter((l, i) => l !== text.split('\n')[i]).length).toBe(1);
    const dir = join(work, 'unit');
    mkdirSync(dir);
    const copy = join(dir, 'charger-controller.service');
    writeFileSync(copy, local);
    const result = await exec(analyze!, ['verify', copy], { SYSTEMD_LOG_COLOR: '0', SYSTEMD_PAGER: '' });
    expect({ code: result.code, output: `${result.stdout}${result.stderr}`.trim() }).toEqual({ code: 0, output: '' });
    // verify prints nothing for a good unit: make sure it does report a broken one here (it is really checking).
    writeFileSync(copy, local.replace('TimeoutStopSec=30', 'TimeoutStopSec=30  # trailing comment'));
    const broken = await exec(analyze!, ['verify', copy], { SYSTEMD_LOG_COLOR: '0', SYSTEMD_PAGER: '' });
    expect(`${broken.stdout}${broken.stderr}`).toContain('Failed to parse');
  });
});
