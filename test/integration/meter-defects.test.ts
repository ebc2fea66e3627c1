/**
 * Meter defects seen from outside (issue 15), each through the meter simulator over loopback sockets and the
 * controller's feed: InitFailed does not flap while the meter stays unreachable; each fault carries its own cause;
 * invalid livemeasure answers raise InvalidResponse with a warn log; a transaction found open at connect is in the
 * snapshot's open transactions, and its journal row has the meter's EVSE and start time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseControllerConfig } from '../../src/config/controller.config.js';
import type { Logger } from '../../src/logger.js';
import { startController, type Controller } from '../../src/main.js';
import { startMeterSimulator, type MeterSimulator } from '../../src/simulators/lem-dcbm/index.js';
import { FeedClient } from '../helpers/feed-client.js';
import { meterSim, START_V1 } from '../helpers/meter-sim.js';

const TOKEN = 'defects-token-0123456789';
const controllers: Controller[] = [];
const clients: FeedClient[] = [];
const sims: MeterSimulator[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.closeAndWait()));
  await Promise.all(controllers.splice(0).map((c) => c.stop()));
  await Promise.all(sims.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A logger whose JSON lines the test reads. */
function capturedLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>); done(); } });
  return { log: pino({ level: 'info' }, stream) as unknown as Logger, lines };
}

async function controllerOn(port: number, meter: Record<string, unknown> = {}, log = capturedLog().log) {
  const dir = mkdtempSync(join(tmpdir(), 'cc-defects-'));
  dirs.push(dir);
  const config = parseControllerConfig({
    meters: [{ name: 'evse1', evse_id: 'DE*DEF*E1', ip_address: '127.0.0.1', port, reading_interval_ms: 100, warmup_ms: 0, command_timeout_ms: 1000, ...meter }],
    feed: { port: 0, token: TOKEN }, state_dir: dir,
  }, 'test', {});
  const controller = await startController({ config, log, shutdownGraceMs: 300 });
  controllers.push(controller);
  const client = new FeedClient(controller.feedUrl, { token: TOKEN });
  clients.push(client);
  await client.opened;
  return { controller, client };
}

const faultMessages = (client: FeedClient, type: 'fault.raised' | 'fault.cleared', fault: string) =>
  client.messages.filter((m) => m.type === type && m.payload.fault === fault);

describe('meter defects (issue 15)', () => {
  it('keeps InitFailed raised while the meter stays unreachable, and clears it once it connects', async () => {
    // A port where nothing listens yet: the meter is off.
    const probe = await startMeterSimulator({ port: 0 });
    const port = probe.port;
    await probe.close();
    const { client } = await controllerOn(port, { resilience_initial_connection_retries: 1, resilience_initial_connection_retry_delay: 50 });
    await client.next((m) => m.type === 'fault.raised' && m.payload.fault === 'InitFailed', 5000);
    await sleep(800); // many further attempts, all refused
    expect(faultMessages(client, 'fault.raised', 'InitFailed')).toHaveLength(1);
    expect(faultMessages(client, 'fault.cleared', 'InitFailed')).toHaveLength(0);
    sims.push(await startMeterSimulator({ port })); // the meter comes back
    await client.next((m) => m.type === 'fault.cleared' && m.payload.fault === 'InitFailed', 5000);
    expect(faultMessages(client, 'fault.raised', 'InitFailed')).toHaveLength(1);
  });

  it('raises each fault with its own cause (a temperature warning does not carry an earlier 503)', async () => {
    const sim = await meterSim();
    const { client } = await controllerOn(sim.port, { temperature_warning_level_C: 60, temperature_min_time_as_valid_ms: 100, resilience_transaction_request_retries: 0 });
    await client.next((m) => m.type === 'reading');
    sim.faults.addResponseFault({ endpoint: 'legal', method: 'POST', status: 503, body: 'Service Unavailable', times: 1 });
    const failed = await client.command({ type: 'start_transaction', request: { evse_id: 'DE*DEF*E1', transaction_id: 'tx-503', identification_status: 'ASSIGNED', identification_type: 'ISO14443', identification_flags: [] } });
    expect(failed.payload.result.status).toBe('UNEXPECTED_ERROR');
    sim.device.setConditions({ temperatureH: 70, temperatureL: 70 });
    const warning = await client.next((m) => m.type === 'fault.raised' && m.payload.fault === 'TemperatureWarning', 5000);
    expect(String(warning.payload.message)).not.toContain('503');
    expect(String(warning.payload.message)).toContain('60 °C');
  });

  it.each([
    ['truncated JSON', '{"voltage": 230.1, "current": 1'],
    ['numbers as strings', JSON.stringify({ voltage: '230', current: '1', power: '0', temperatureH: '25', temperatureL: '25', energyImportTotal: '1', energyExportTotal: '0', timestamp: '2026-01-01T00:00:00Z' })],
    ['an HTML page', '<html><body>502 Bad Gateway</body></html>'],
    ['an empty body', ''],
  ])('raises InvalidResponse with a warn log on repeated invalid livemeasure answers (%s), cleared by the next good one', async (_label, body) => {
    const sim = await meterSim();
    const captured = capturedLog();
    const { client } = await controllerOn(sim.port, {}, captured.log);
    await client.next((m) => m.type === 'reading');
    sim.faults.addResponseFault({ endpoint: 'livemeasure', body, times: 3 });
    const raised = await client.next((m) => m.type === 'fault.raised' && m.payload.fault === 'InvalidResponse', 5000);
    expect(String(raised.payload.message)).toMatch(/livemeasure/);
    const warns = captured.lines.filter((l) => l.level === 40 && typeof l.endpoint === 'string');
    expect(warns.length).toBeGreaterThanOrEqual(3);
    expect(warns[0]).toMatchObject({ endpoint: expect.stringMatching(/^GET \/v[12]\/livemeasure$/), error: expect.any(String) });
    // The link stays up (the meter answers), and the next good answer clears the fault.
    expect(faultMessages(client, 'fault.raised', 'CommunicationFault')).toHaveLength(0);
    await client.next((m) => m.type === 'fault.cleared' && m.payload.fault === 'InvalidResponse', 5000);
  });

  it('lists a transaction found open at connect in the snapshot, its journal row with the EVSE and start time of the meter\'s record', async () => {
    const sim = await meterSim();
    sim.device.start({ ...START_V1, evseId: 'DE*OTHER*E9', transactionId: 'tx-found', clientId: ',tx-found' }, 'v1');
    const startedOnMeter = Date.now();
    await sleep(1100); // the record's start time is to the second
    const { controller, client } = await controllerOn(sim.port);
    await client.next((m) => m.type === 'reading');
    let open: { transactionId: string; startedAt: string }[] = [];
    for (let i = 0; i < 50 && open.length === 0; i += 1) {
      const snapshot = await client.command({ type: 'get_snapshot' });
      open = snapshot.payload.result.openTransactions as typeof open;
      if (open.length === 0) await sleep(50);
    }
    expect(open).toMatchObject([{ transactionId: 'tx-found' }]);
    expect(Math.abs(Date.parse(open[0]!.startedAt) - startedOnMeter)).toBeLessThan(1500);
    const row = controller.journal.transaction('evse1', 'tx-found');
    expect(row).toMatchObject({ state: 'open', evseId: 'DE*OTHER*E9' });
    expect(Math.abs(Date.parse(row!.startedAt!) - startedOnMeter)).toBeLessThan(1500);
    // Stopped later, it keeps them.
    const stopped = await client.command({ type: 'stop_transaction', transactionId: 'tx-found' });
    expect(stopped.payload.result.status).toBe('OK');
    expect(controller.journal.transaction('evse1', 'tx-found')).toMatchObject({ state: 'closed', evseId: 'DE*OTHER*E9' });
  });
});
