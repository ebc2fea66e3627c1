/**
 * Memory (issue 16): the controller loads only what its config needs. A JSON config never loads the YAML parser;
 * a YAML file is read by its extension or, failing JSON, by its content; the 2030.5 client runs on node:https and
 * loads no undici. Module loading is observed in a fresh Node process (module.registerHooks) over the compiled
 * JavaScript in dist/ (built by `npm test` before vitest).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadControllerConfig } from '../../src/config/controller.config.js';

const DIST = join(import.meta.dirname, '../../dist/src');
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function write(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cc-config-loader-'));
  dirs.push(dir);
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

/** The bare package names a fresh Node process resolves while running `body` (an async function of `dist`). */
function packagesLoaded(body: string): string[] {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({ resolve(specifier, context, next) { if (!/^(node:|[./]|file:)/.test(specifier)) seen.add(specifier.split('/')[0]); return next(specifier, context); } });
    const dist = ${JSON.stringify(DIST)};
    await (${body})(dist);
    process.stdout.write(JSON.stringify([...seen].sort()));
  `;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
}

describe('config loader', () => {
  const meters = { meters: [{ ip_address: '127.0.0.1' }] };

  it('does not load the YAML parser for a JSON config, and loads it for a YAML one', () => {
    const json = write('config.json', JSON.stringify(meters));
    const yaml = write('config.yaml', 'meters:\n  - ip_address: 127.0.0.1\n');
    const load = (file: string) => `async (dist) => { const { loadControllerConfig } = await import(dist + '/config/controller.config.js'); await loadControllerConfig(${JSON.stringify(file)}, {}, { files: true }); }`;
    expect(packagesLoaded(load(json))).not.toContain('yaml');
    expect(packagesLoaded(load(yaml))).toContain('yaml');
  });

  it('reads YAML without a YAML extension when the text is not JSON, and names both formats when neither parses', async () => {
    const file = write('charger.conf', 'meters:\n  - name: left\n    ip_address: 10.0.0.2\n');
    expect((await loadControllerConfig(file, {})).meters[0]).toMatchObject({ name: 'left', ip_address: '10.0.0.2' });
    expect((await loadControllerConfig(write('charger.conf', JSON.stringify(meters)), {})).meters).toHaveLength(1);
    const broken = await loadControllerConfig(write('charger.conf', 'meters: [\n'), {}).catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(ConfigError);
    expect((broken as ConfigError).problems[0]).toMatch(/^not valid JSON or YAML: /);
    const json = await loadControllerConfig(write('c.json', '{"meters": [}'), {}).catch((e: unknown) => e);
    expect((json as ConfigError).problems[0]).toMatch(/^not valid JSON: /);
  });

  it('runs the 2030.5 client without undici', () => {
    const body = `async (dist) => { const { Sep2Client } = await import(dist + '/adapters/sep2/sep2.client.js'); const c = new Sep2Client({ baseUrl: 'http://127.0.0.1:9' }); await c.get('DeviceCapability', '/dcap').catch(() => undefined); await c.close(); }`;
    const loaded = packagesLoaded(body);
    expect(loaded).toContain('ky');
    expect(loaded).not.toContain('undici');
  });
});
