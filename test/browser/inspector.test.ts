/**
 * The inspector page in a real headless Chromium (Debian's `chromium`, driven by playwright-core): it loads, shows
 * the meter diagram, highlights the active state live as a transaction starts through the command channel, and
 * badges the OCMF record "verified" after the stop. A screenshot goes to test-artifacts/ (git-ignored).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseControllerConfig } from '../../src/config/controller.config.js';
import { createLogger } from '../../src/logger.js';
import { startController, type Controller } from '../../src/main.js';
import { FeedClient } from '../helpers/feed-client.js';
import { meterSim } from '../helpers/meter-sim.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts');
const TOKEN = 'browser-token-0123456789abcdef';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs the Debian package "chromium"`);
if (!haveChromium) console.warn(`skipped: ${CHROMIUM} not found (apt-get install -y chromium; .ci/run installs it)`);

describe.skipIf(!haveChromium)('inspector page in headless Chromium', () => {
  let browser: Browser;
  let controller: Controller;
  let dir: string;
  let client: FeedClient;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 30_000);

  afterAll(async () => {
    await client?.closeAndWait();
    await controller?.stop();
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows live states and verifies the OCMF signature', async () => {
    const sim = await meterSim({ chargePowerKw: 11 });
    dir = mkdtempSync(join(tmpdir(), 'cc-ui-'));
    const config = parseControllerConfig({
      meters: [{ name: 'left', evse_id: 'DE*CHC*E1', ip_address: '127.0.0.1', port: sim.port, reading_interval_ms: 300, warmup_ms: 0 }],
      feed: { port: 0, token: TOKEN, allow_read_only: true }, state_dir: dir,
    }, 'test', {});
    controller = await startController({ config, log: createLogger({ level: 'silent' }) });

    const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
    await page.goto(`${controller.httpUrl}/#token=${TOKEN}`);
    await page.waitForSelector('#connection.ok');
    await page.waitForSelector('.diagram[data-machine="meter:left"] svg');
    const idle = '.diagram[data-machine="meter:left"] [id="state:meter.operational.transaction.idle"]';
    await page.waitForSelector(`${idle}.active`);
    expect(await page.locator('#mode').textContent()).toBe('commands enabled');
    expect(await page.locator('.diagram[data-machine="meter:left"]').isVisible()).toBe(true);
    await page.waitForFunction(() => document.querySelector('[data-meter="left"]')?.textContent?.includes('1211751603'));

    // A transaction started through the command channel (another client): the highlight moves to running.
    client = new FeedClient(controller.feedUrl, { token: TOKEN });
    await client.next((m) => m.type === 'snapshot');
    const started = await client.command({ type: 'start_transaction', meter: 'left', request: { evse_id: 'DE*CHC*E1', transaction_id: 'ui-tx-1', identification_status: 'ASSIGNED', identification_type: 'NONE', identification_flags: [] } });
    expect(started.payload.result.status).toBe('OK');
    const running = '.diagram[data-machine="meter:left"] [id="state:meter.operational.transaction.running"]';
    await page.waitForSelector(`${running}.active`);
    expect(await page.locator(idle).getAttribute('class')).not.toContain('active');
    await page.waitForSelector('tr[data-transaction="ui-tx-1"]');

    // Stopped from the page's own button: the OCMF record is checked with the meter's key in the browser.
    await page.locator('[data-meter="left"] button', { hasText: 'Stop transaction' }).click();
    const badge = page.locator('tr[data-transaction="ui-tx-1"] [data-testid="ocmf-badge"]');
    await badge.waitFor();
    await page.waitForFunction(() => document.querySelector('tr[data-transaction="ui-tx-1"] .badge')?.textContent !== 'checking');
    expect(await badge.textContent()).toBe('verified');
    await page.waitForSelector(`${idle}.active`);
    expect(sim.requests.entries().filter((r) => r.method === 'PUT' && r.path === '/v2/legal')).toHaveLength(1);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'inspector.png'), fullPage: false });
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('stays read-only without a token and survives a controller restart', async () => {
    const page = await browser.newPage();
    await page.goto(controller.httpUrl);
    await page.evaluate(() => sessionStorage.removeItem('feedToken'));
    await page.reload();
    await page.waitForSelector('#connection.ok');
    expect(await page.locator('#mode').textContent()).toBe('read-only');
    expect(await page.locator('#reregister').isDisabled()).toBe(true);

    const port = Number(new URL(controller.httpUrl).port);
    const sim = await meterSim({ meterId: '77' });
    await controller.stop();
    await page.waitForSelector('#connection.bad');
    const config = parseControllerConfig({
      meters: [{ name: 'left', evse_id: 'DE*CHC*E1', ip_address: '127.0.0.1', port: sim.port, reading_interval_ms: 300, warmup_ms: 0 }],
      feed: { port, allow_read_only: true }, state_dir: dir,
    }, 'test', {});
    controller = await startController({ config, log: createLogger({ level: 'silent' }) });
    await page.waitForSelector('#connection.ok', { timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('[data-meter="left"]')?.textContent?.includes('77'), undefined, { timeout: 15_000 });
    await page.close();
  }, 45_000);
});
