/**
 * The shipped command line: `charger-controller simulate meter` from the compiled JavaScript, as a user runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedRsa } from '../../src/pki/certificate.js';
import { getJson } from '../helpers/http.js';

const CLI = join(import.meta.dirname, '../../dist/src/cli.js');
const children = new Set<ChildProcess>();

afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);
});

function run(args: string[]): { child: ChildProcess; exited: Promise<{ code: number | null; stdout: string; stderr: string }>; line: (pattern: RegExp) => Promise<string> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of [...waiters]) {
      const line = stdout.split('\n').find((l) => w.pattern.test(l));
      if (line) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
  const line = (pattern: RegExp) => new Promise<string>((resolve, reject) => {
    waiters.push({ pattern, resolve });
    setTimeout(() => reject(new Error(`no line matching ${pattern} within 10 s; stdout: ${stdout} stderr: ${stderr}`)), 10_000).unref();
  });
  return { child, exited, line };
}

describe('charger-controller simulate meter', () => {
  it('prints help and exits 0', async () => {
    const { stdout, code } = await run(['simulate', 'meter', '--help']).exited;
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: charger-controller simulate meter');
    expect(stdout).toContain('--tls');
  });

  it('rejects bad options with exit code 2 and a clear message', async () => {
    const bad = await run(['simulate', 'meter', '--port', 'eighty']).exited;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--port must be an integer');
    const unknown = await run(['simulate', 'meter', '--colour']).exited;
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--colour'");
    const command = await run(['frobnicate']).exited;
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('unknown command');
  });

  it('serves /v1/status, keeps its keys in --state-dir and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-state-'));
    try {
      const sim = run(['simulate', 'meter', '--port', '0', '--state-dir', dir, '--meter-id', '12024072805']);
      const started = JSON.parse(await sim.line(/simulator listening/)) as { url: string; certificateSha256: string };
      const status = await getJson<{ meterId: string; status: { value: number } }>(`${started.url}/v1/status`);
      expect(status).toMatchObject({ meterId: '12024072805', status: { value: 17 } });
      sim.child.kill('SIGTERM');
      expect((await sim.exited).code).toBe(0);
      const firstCert = readFileSync(join(dir, 'tls-cert.pem'), 'utf8');

      const again = run(['simulate', 'meter', '--port', '0', '--state-dir', dir, '--tls']);
      const restarted = JSON.parse(await again.line(/simulator listening/)) as { url: string; certificateSha256: string };
      expect(restarted.url).toMatch(/^https:/);
      expect(restarted.certificateSha256).toBe(started.certificateSha256);
      expect((await getJson(`${restarted.url}/v1/status`, { ca: firstCert })).meterId).toBe('1211751603');
      again.child.kill('SIGINT');
      expect((await again.exited).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves a TLS pair given with --tls-key/--tls-cert and keeps only its signing key in --state-dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-given-'));
    try {
      const pair = createSelfSignedRsa({ commonName: 'given', altNames: ['127.0.0.1'], bits: 2048 });
      writeFileSync(join(dir, 'given-key.pem'), pair.keyPem);
      writeFileSync(join(dir, 'given-cert.pem'), pair.certPem);
      const state = join(dir, 'state');
      const sim = run(['simulate', 'meter', '--port', '0', '--tls', '--tls-key', join(dir, 'given-key.pem'), '--tls-cert', join(dir, 'given-cert.pem'), '--state-dir', state]);
      const started = JSON.parse(await sim.line(/simulator listening/)) as { url: string };
      expect((await getJson(`${started.url}/v1/status`, { ca: pair.certPem })).meterId).toBe('1211751603');
      expect(readdirSync(state).sort()).toEqual(['signing-key.pem']);
      sim.child.kill('SIGTERM');
      expect((await sim.exited).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
