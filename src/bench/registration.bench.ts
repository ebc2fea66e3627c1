/**
 * Aggregator registration of many sites against the local 2030.5 test server over mutual TLS, with bounded
 * concurrency. The server runs in its own process (`simulate sep-server`), as a utility server would, so client
 * and server do not share a core.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateIdentity } from '../adapters/sep2/identity.js';
import { registerSites } from '../adapters/sep2/registration.service.js';
import { Sep2Client } from '../adapters/sep2/sep2.client.js';
import type { SiteRegistration } from '../../machines/registration/registration.types.js';
import { figure, type Figure } from './stats.js';
import { CLI, waitForLine } from './process.js';

function sites(count: number, run: number): SiteRegistration[] {
  return Array.from({ length: count }, (_, i) => {
    const unique = (0x100000000 + run * 100_000 + i).toString(16).toUpperCase().padStart(9, '0');
    return {
      name: `site-${i}`, lfdi: `${unique}${'0'.repeat(23)}00099999`, deviceCategory: 0x020000, nmi: `NMI${String(i).padStart(7, '0')}`,
      derCapability: { modesSupported: 0x00500088, rtgMaxW: 7000, type: 82, doeModesSupported: 0x0f },
      derSettings: { modesEnabled: 0x00500088, setGradW: 100, setMaxW: 7000, doeModesEnabled: 0x0f },
      derStatus: { genConnectStatus: 1 },
    };
  });
}

export async function benchRegistration(options: { sites: number; runs: number; concurrency: number }): Promise<Figure[]> {
  const samples: number[] = [];
  for (let run = 0; run < options.runs; run += 1) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-sep-'));
    // First start writes the PKI; its device certificate is the aggregator's.
    const server = spawn(process.execPath, [CLI, 'simulate', 'sep-server', '--port', '0', '--state-dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const url = JSON.parse(await waitForLine(server, /2030\.5 test server listening/)).url as string;
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
      const chainPem = readFileSync(join(dir, 'client-chain.pem'), 'utf8');
      const aggregator = certificateIdentity(chainPem).lfdi;
      const again = spawn(process.execPath, [CLI, 'simulate', 'sep-server', '--port', new URL(url).port, '--state-dir', dir, '--aggregator-lfdi', aggregator], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        await waitForLine(again, /2030\.5 test server listening/);
        again.stdout?.resume(); // drain its log
        const client = new Sep2Client({ baseUrl: url, tls: { certPem: chainPem, keyPem: readFileSync(join(dir, 'client-key.pem'), 'utf8'), caPem: readFileSync(join(dir, 'serca.pem'), 'utf8') } });
        const started = performance.now();
        const outcomes = await registerSites(sites(options.sites, run), {
          client, concurrency: options.concurrency,
          policy: { dcapPath: '/dcap', pageSize: 1, maxPages: 1, inBandRegistration: true, csipaus: 'auto', createDer: false, legacyPathFallback: false, maxAttempts: 3, retryBaseMs: 50, retryMaxMs: 500, outOfBandPollMs: 60_000 },
        });
        const seconds = (performance.now() - started) / 1000;
        await client.close();
        const failed = outcomes.filter((o) => !o.ok);
        if (failed.length) throw new Error(`${failed.length} sites failed, e.g. ${JSON.stringify(failed[0])}`);
        samples.push(options.sites / seconds);
      } finally {
        again.kill('SIGTERM');
        await new Promise((resolve) => again.once('exit', resolve));
      }
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return [figure('registration_rate', `aggregator registration of ${options.sites} sites over mTLS (concurrency ${options.concurrency})`, 'sites/s', samples, { op: '>=', value: 200 })];
}
