/**
 * The shipped command line: `charger-controller simulate meter` from the compiled JavaScript, as a user runs it.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedRsa } from '../../src/pki/certificate.js';
import { CLI, runCli, spawnCli } from '../helpers/cli.js';
import { getJson } from '../helpers/http.js';

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);
});

describe('charger-controller simulate meter', () => {
  it('prints help and exits 0', async () => {
    const { stdout, code } = await runCli(['simulate', 'meter', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: charger-controller simulate meter');
    expect(stdout).toContain('--tls');
  });

  it('rejects bad options with exit code 2 and a clear message', async () => {
    const bad = await runCli(['simulate', 'meter', '--port', 'eighty']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--port must be an integer');
    const unknown = await runCli(['simulate', 'meter', '--colour']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--colour'");
    const command = await runCli(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('unknown command');
  });

  it('serves /v1/status, keeps its keys in --state-dir and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-state-'));
    try {
      const sim = spawnCli(['simulate', 'meter', '--port', '0', '--state-dir', dir, '--meter-id', '12024072805']);
      const started = JSON.parse(await sim.line(/simulator listening/)) as { url: string; certificateSha256: string };
      const status = await getJson<{ meterId: string; status: { value: number } }>(`${started.url}/v1/status`);
      expect(status).toMatchObject({ meterId: '12024072805', status: { value: 17 } });
      sim.child.kill('SIGTERM');
      expect(await sim.exited).toBe(0);
      const firstCert = readFileSync(join(dir, 'tls-cert.pem'), 'utf8');

      const again = spawnCli(['simulate', 'meter', '--port', '0', '--state-dir', dir, '--tls']);
      const restarted = JSON.parse(await again.line(/simulator listening/)) as { url: string; certificateSha256: string };
      expect(restarted.url).toMatch(/^https:/);
      expect(restarted.certificateSha256).toBe(started.certificateSha256);
      expect((await getJson(`${restarted.url}/v1/status`, { ca: firstCert })).meterId).toBe('1211751603');
      again.child.kill('SIGINT');
      expect(await again.exited).toBe(0);
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
      const sim = spawnCli(['simulate', 'meter', '--port', '0', '--tls', '--tls-key', join(dir, 'given-key.pem'), '--tls-cert', join(dir, 'given-cert.pem'), '--state-dir', state]);
      const started = JSON.parse(await sim.line(/simulator listening/)) as { url: string };
      expect((await getJson(`${started.url}/v1/status`, { ca: pair.certPem })).meterId).toBe('1211751603');
      expect(readdirSync(state).sort()).toEqual(['signing-key.pem']);
      sim.child.kill('SIGTERM');
      expect(await sim.exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
