/**
 * The inspector page in a real headless Chromium (Debian's `chromium`, driven by playwright-core) against a real
 * controller and the LEM DCBM simulator: a header that tells the truth (a meter that is down, Start disabled with
 * the reason), a start from the page with its result inline, the active state kept in view, zoom and pan, time
 * travel from the event log, the OCMF badge naming its key, and a phone layout (400 px) where every button can
 * be clicked. Screenshots at 1 400 and 400 px go to a temporary folder (printed); layout facts are asserted.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseControllerConfig } from '../../src/config/controller.config.js';
import { createLogger } from '../../src/logger.js';
import { startController, type Controller } from '../../src/main.js';
import { meterSim } from '../helpers/meter-sim.js';
import { machines } from '../../machines/index.js';
import { buildDiagram } from '../../src/diagrams/graph.js';
import { toSvg } from '../../src/diagrams/render.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'browser-token-0123456789abcdef';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs the Debian package "chromium"`);
if (!haveChromium) console.warn(`skipped: ${CHROMIUM} not found (apt-get install -y chromium; .ci/run installs it)`);

const log = createLogger({ level: 'silent' });
const dirs: string[] = [];
const controllers: Controller[] = [];
const SHOTS = mkdtempSync(join(tmpdir(), 'cc-inspector-shots-'));
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function controllerFor(port: number, meter: Record<string, unknown> = {}, feed: Record<string, unknown> = {}): Promise<Controller> {
  const dir = mkdtempSync(join(tmpdir(), 'cc-ui-'));
  dirs.push(dir);
  const config = parseControllerConfig({
    meters: [{ name: 'left', evse_id: 'DE*CHC*E1', ip_address: '127.0.0.1', port, reading_interval_ms: 300, warmup_ms: 0, ...meter }],
    feed: { port: 0, token: TOKEN, allow_read_only: true, ...feed }, state_dir: dir,
  }, 'test', {});
  const controller = await startController({ config, log, shutdownGraceMs: 300 });
  controllers.push(controller);
  return controller;
}

async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Every visible element's box lies within the viewport's width; returns the offenders. */
const outsideWidth = (page: Page) => page.evaluate(() => {
  const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll('header, section, button, select, input, canvas, #viewport, #log, table')]
    .filter((e) => (e as HTMLElement).offsetParent !== null && !e.closest('.scroll-x'))
    .map((e) => ({ e: `${e.tagName}#${e.id}.${e.className}`, r: e.getBoundingClientRect() }))
    .filter(({ r }) => r.left < -0.5 || r.right > w + 0.5)
    .map(({ e, r }) => `${e} ${Math.round(r.left)}..${Math.round(r.right)}`);
});
/** The smallest computed font size of visible HTML text, and the smallest rendered size of the diagram's text. */
const textSizes = (page: Page) => page.evaluate(() => {
  let html = Infinity;
  for (const e of document.querySelectorAll('body *')) {
    if (e.closest('svg') || !(e as HTMLElement).offsetParent || ![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent!.trim())) continue;
    html = Math.min(html, parseFloat(getComputedStyle(e).fontSize));
  }
  const svg = document.querySelector('#canvas svg') as SVGSVGElement;
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  let diagram = Infinity;
  for (const t of svg.querySelectorAll('text')) diagram = Math.min(diagram, parseFloat(getComputedStyle(t).fontSize) * scale);
  return { html, diagram };
});
const inside = (page: Page, selector: string, container: string) => page.evaluate(([s, c]) => {
  const a = document.querySelector(s!)!.getBoundingClientRect(); const b = document.querySelector(c!)!.getBoundingClientRect();
  return a.width > 0 && a.left >= b.left && a.right <= b.right && a.top >= b.top && a.bottom <= b.bottom;
}, [selector, container]);

describe.skipIf(!haveChromium)('inspector page in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    console.info(`inspector screenshots: ${SHOTS}`);
  }, 30_000);

  afterEach(async () => {
    await Promise.all(controllers.splice(0).map((c) => c.stop()));
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('shows a meter that is down in the header, with Start disabled and its reason', async () => {
    const controller = await controllerFor(await deadPort(), { resilience_initial_connection_retries: 1, resilience_initial_connection_retry_delay: 100 });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${controller.httpUrl}/#token=${TOKEN}`);
    await page.waitForSelector('#connection.ok');
    const chip = page.locator('#statuses [data-machine="meter:left"]');
    await page.waitForSelector('#statuses [data-machine="meter:left"][data-status="unreachable"]');
    expect(await chip.textContent()).toBe('left: unreachable');
    expect(await chip.getAttribute('class')).toContain('bad');
    const start = page.locator('[data-meter="left"] button[data-action="start"]');
    expect(await start.isDisabled()).toBe(true);
    expect(await page.locator('[data-meter="left"] .reason').first().textContent()).toContain('unreachable');
    expect(await start.getAttribute('title')).toContain('Powermeter is not initialized');
    // No registration configured: Re-register says so.
    expect(await page.locator('#reregister').isDisabled()).toBe(true);
    expect(await page.locator('#reregister-reason').textContent()).toBe('no 2030.5 registration configured');
    await page.close();
  }, 30_000);

  it('starts from the page with the result inline, follows the active state, zooms, pans and travels back in time', async () => {
    const sim = await meterSim({ chargePowerKw: 11 });
    const controller = await controllerFor(sim.port);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
    await page.goto(`${controller.httpUrl}/#token=${TOKEN}`);
    await page.waitForSelector('#connection.ok');
    expect(await page.locator('#mode').textContent()).toBe('commands enabled');
    const idle = '#canvas [id="state:meter.operational.transaction.idle"]';
    const running = '#canvas [id="state:meter.operational.transaction.running"]';
    await page.waitForSelector(`${idle}.active`);
    await page.waitForSelector('#statuses [data-machine="meter:left"][data-status="idle"]');
    expect(await page.locator('#statuses [data-machine="meter:left"]').textContent()).toBe('left: connected · idle');

    // Readable at the default zoom: HTML text and the diagram's labels at 11 px or more.
    const sizes = await textSizes(page);
    expect(sizes.html).toBeGreaterThanOrEqual(11);
    expect(sizes.diagram).toBeGreaterThanOrEqual(11);

    // The meter panel is not rebuilt by readings: the same button survives several of them.
    const start = page.locator('[data-meter="left"] button[data-action="start"]');
    const handle = await start.elementHandle();
    await page.waitForFunction(() => document.querySelectorAll('#log .row').length > 0);
    await page.waitForTimeout(1000);
    expect(await handle!.evaluate((e) => e.isConnected)).toBe(true);
    expect(await start.isEnabled()).toBe(true);

    // Start from the page: the result is shown next to the button; the chart follows to running.
    await start.click();
    const result = page.locator('[data-meter="left"] [data-field="result"]');
    await page.waitForFunction(() => document.querySelector('[data-meter="left"] [data-field="result"]')?.textContent?.startsWith('start: OK'));
    expect(await result.getAttribute('class')).toContain('ok');
    await page.waitForSelector(`${running}.active`);
    await page.waitForFunction((s) => {
      const a = document.querySelector(s)!.getBoundingClientRect(); const b = document.querySelector('#viewport')!.getBoundingClientRect();
      return a.left >= b.left && a.right <= b.right && a.top >= b.top && a.bottom <= b.bottom;
    }, running, { timeout: 5000 });
    expect(await inside(page, running, '#viewport')).toBe(true);
    await page.waitForFunction(() => document.querySelector('[data-meter="left"] .reason')?.textContent?.includes('is open'));
    expect(await page.locator('[data-meter="left"] button[data-action="start"]').isDisabled()).toBe(true);
    // The running transaction's energy so far and duration, from the readings.
    await page.waitForFunction(() => /^\d+\.\d{3} kWh so far$/.test(document.querySelector('#transactions tr td:nth-child(4)')?.textContent ?? ''));

    // Zoom: the running node grows by the zoom step.
    const w0 = (await page.locator(running).boundingBox())!.width;
    await page.click('#zoom-in');
    const w1 = (await page.locator(running).boundingBox())!.width;
    expect(w1 / w0).toBeGreaterThan(1.2);
    expect(w1 / w0).toBeLessThan(1.3);
    // Pan by dragging: the view moves and stops following.
    const box = (await page.locator('#viewport').boundingBox())!;
    const before = await page.evaluate(() => [document.getElementById('viewport')!.scrollLeft, document.getElementById('viewport')!.scrollTop]);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 150, box.y + box.height / 2 + 60, { steps: 5 });
    await page.mouse.up();
    const after = await page.evaluate(() => [document.getElementById('viewport')!.scrollLeft, document.getElementById('viewport')!.scrollTop]);
    expect(Math.abs(after[0]! - before[0]!) + Math.abs(after[1]! - before[1]!)).toBeGreaterThan(50);
    expect(await page.locator('#follow').isChecked()).toBe(false);
    await page.click('#zoom-reset');

    // Time travel: the snapshot at connect shows the meter idle; back to live shows it running.
    await page.locator('#log .row[data-type="snapshot"]').click();
    await page.waitForSelector(`${idle}.active`);
    expect(await page.locator(running).getAttribute('class')).not.toContain('active');
    expect(await page.locator('#tt-banner').isVisible()).toBe(true);
    expect(await page.locator('#context-when').textContent()).toMatch(/^at #1 /);
    // An event of the start: its payload and context change are shown.
    await page.selectOption('#log-type', 'chart');
    await page.locator('#log .row[data-event="START_TRANSACTION"]').click();
    expect(await page.locator('#log-detail').textContent()).toContain('"transaction_id"');
    expect(await page.locator('#canvas').getAttribute('data-active')).toContain('operational.transaction.starting');
    await page.click('#tt-live');
    await page.waitForSelector(`${running}.active`);
    // The log exported for a bug report: every message kept, the snapshot first.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    const exported = JSON.parse(readFileSync((await download.path())!, 'utf8')) as { messages: { type: string; payload: { event?: { type: string } } }[] };
    expect(exported.messages[0]!.type).toBe('snapshot');
    expect(exported.messages.some((m) => m.type === 'chart' && m.payload.event?.type === 'START_TRANSACTION')).toBe(true);
    await page.selectOption('#log-type', '');
    // Readings stay collapsed by default.
    expect(await page.locator('#log .row[data-type="reading"]').count()).toBe(0);
    expect(Number(await page.locator('#log .row.group').first().getAttribute('data-count'))).toBeGreaterThan(0);

    // Stop from the page: the record is parsed and checked; the badge names the key and where it came from.
    await page.locator('[data-meter="left"] button[data-action="stop"]').click();
    await page.waitForFunction(() => document.querySelector('[data-meter="left"] [data-field="result"]')?.textContent?.startsWith('stop: OK'));
    const tx = page.locator('#transactions tr').first();
    await page.waitForFunction(() => document.querySelector('#transactions [data-testid="ocmf-badge"]')?.textContent === 'verified');
    expect(await tx.locator('[data-testid="ocmf-key"]').textContent()).toMatch(/^key [0-9a-f]{2}(:[0-9a-f]{2}){7} · from meter left's \/v1\/status/);
    expect(await tx.locator('td').nth(3).textContent()).toMatch(/^\d+\.\d{3} kWh$/);
    await page.waitForSelector(`${idle}.active`);
    expect(sim.requests.entries().filter((r) => r.method === 'PUT' && r.path === '/v2/legal')).toHaveLength(1);

    expect(await outsideWidth(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'inspector-1400.png') });

    // A phone: 400 px wide, nothing wider than the screen, and every button can be clicked.
    await page.setViewportSize({ width: 400, height: 860 });
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(400);
    expect(await outsideWidth(page)).toEqual([]);
    expect((await textSizes(page)).html).toBeGreaterThanOrEqual(11);
    const buttons = page.locator('button:visible');
    const count = await buttons.count();
    expect(count).toBeGreaterThan(8);
    for (let i = 0; i < count; i += 1) {
      const button = buttons.nth(i);
      if (await button.isDisabled()) continue;
      await button.click({ trial: true, timeout: 3000 });
    }
    const phoneStart = page.locator('[data-meter="left"] button[data-action="start"]');
    await phoneStart.click();
    await page.waitForFunction(() => document.querySelector('[data-meter="left"] [data-field="result"]')?.textContent?.startsWith('start: OK'));
    await page.locator('[data-meter="left"] button[data-action="stop"]').click();
    await page.waitForFunction(() => document.querySelector('[data-meter="left"] [data-field="result"]')?.textContent?.startsWith('stop: OK'));
    await page.screenshot({ path: join(SHOTS, 'inspector-400.png'), fullPage: true });
    expect(existsSync(join(SHOTS, 'inspector-1400.png')) && existsSync(join(SHOTS, 'inspector-400.png'))).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);

  it('shows registration, the DER client and the grid limit of the embedded demo, and re-registers from the page', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-ui-demo-'));
    dirs.push(dir);
    const controller = await startController({ log, feedPort: 0, warmupMs: 0, stateDir: dir, shutdownGraceMs: 300 });
    controllers.push(controller);
    const token = readFileSync(join(dir, 'feed-token'), 'utf8').trim();
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${controller.httpUrl}/#token=${token}`);
    await page.waitForSelector('#statuses [data-machine="registration:charger"][data-status="registered"]', { timeout: 15_000 });
    await page.waitForSelector('#statuses [data-machine="derClient:charger"][data-status="following"]', { timeout: 15_000 });
    expect(await page.locator('#statuses [data-machine="derClient:charger"]').textContent()).toBe('DER client charger: following');
    const row = page.locator('#registration tr[data-site="charger"]');
    expect(await row.locator('td').nth(1).textContent()).toBe('registered');
    expect(await row.locator('td').nth(2).textContent()).toBe('');
    expect(await row.locator('td').nth(3).textContent()).toMatch(/^EndDevice \/\S+/);
    await page.waitForSelector('#grid tr[data-site="charger"]');
    const grid = await page.locator('#grid tr[data-site="charger"] td').allTextContents();
    expect(grid.slice(0, 3)).toEqual(['charger', '50000 W', 'default']);
    expect(grid[3]).not.toBe('–');
    // The DER client's chart, like the others.
    await page.selectOption('#diagram-select', 'derClient:charger');
    await page.waitForSelector('#canvas[data-machine="derClient:charger"] [id="state:derClient.polling.waiting"].active');
    // Re-register from the page: its result under the button.
    expect(await page.locator('#reregister').isEnabled()).toBe(true);
    await page.click('#reregister');
    await page.waitForFunction(() => /^re-register: (?!sent)/.test(document.getElementById('reregister-result')?.textContent ?? ''), undefined, { timeout: 15_000 });
    expect(await page.locator('#reregister-result').textContent()).toContain('charger ok');
    await page.close();
  }, 60_000);

  it('stays read-only without a token and survives a controller restart', async () => {
    const sim = await meterSim();
    const controller = await controllerFor(sim.port);
    const page = await browser.newPage();
    await page.goto(controller.httpUrl);
    await page.evaluate(() => sessionStorage.removeItem('feedToken'));
    await page.reload();
    await page.waitForSelector('#connection.ok');
    expect(await page.locator('#mode').textContent()).toBe('read-only (no token)');
    await page.waitForSelector('[data-meter="left"] button[data-action="start"]');
    expect(await page.locator('[data-meter="left"] .reason').first().textContent()).toContain('read-only');

    const port = Number(new URL(controller.httpUrl).port);
    const other = await meterSim({ meterId: '77' });
    await controller.stop();
    controllers.splice(controllers.indexOf(controller), 1);
    await page.waitForSelector('#connection.bad');
    await controllerFor(other.port, {}, { port });
    await page.waitForSelector('#connection.ok', { timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('[data-meter="left"] [data-field="meterId"]')?.textContent === '77', undefined, { timeout: 15_000 });
    await page.close();
  }, 45_000);
});

describe('inspector routes', () => {
  it('serves the diagrams as drawn for visualizations/, folded on request, and as JSON', async () => {
    const controller = await controllerFor(await deadPort(), { resilience_initial_connection_retry_delay: 60_000 });
    try {
      const get = async (path: string) => { const r = await fetch(`${controller.httpUrl}${path}`); return { status: r.status, type: r.headers.get('content-type'), text: await r.text() }; };
      const page = await get('/');
      expect(page.status).toBe(200);
      expect(page.text).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet|https?:\/\/(?!www\.w3\.org)/);
      expect(Buffer.byteLength(page.text)).toBeLessThan(64 * 1024);
      const full = await get('/diagrams/meter.svg');
      expect(full.text).toBe(await toSvg(buildDiagram('meter', machines.meter)));
      const folded = await get('/diagrams/meter.svg?fold=meter.operational.temperature,not.a.state');
      expect(folded.text).toContain('id="state:meter.operational.temperature"');
      expect(folded.text).not.toContain('state:meter.operational.temperature.warning.normal');
      expect(folded.text).toContain('state:meter.operational.transaction.idle');
      const graph = JSON.parse((await get('/diagrams/derClient.json')).text) as { name: string; states: { id: string }[] };
      expect(graph.name).toBe('derClient');
      expect(graph.states.map((s) => s.id)).toContain('derClient.polling.unreachable');
      expect((await get('/diagrams/nothing.svg')).status).toBe(404);
    } finally {
      await controller.stop();
      controllers.splice(controllers.indexOf(controller), 1);
    }
  }, 30_000);
});
