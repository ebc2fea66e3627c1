/**
 * The feed speaks the domain: public `state` messages only on meaningful changes, with public statuses and event
 * names; the detailed leaf-state stream (`chart`) only after a `subscribe`; and a shutdown that does not wait for
 * a client that stopped reading. A real controller on the LEM DCBM simulator, clients over loopback WebSockets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { closeHttpServer } from '../../src/adapters/feed/feed.server.js';
import { METER_STATUSES } from '../../src/adapters/feed/public-state.js';
import { parseControllerConfig } from '../../src/config/controller.config.js';
import { createLogger } from '../../src/logger.js';
import { startController, type Controller } from '../../src/main.js';
import { FeedClient } from '../helpers/feed-client.js';
import { meterSim } from '../helpers/meter-sim.js';

const TOKEN = 'feed-protocol-token-0123456789';
const log = createLogger({ level: 'silent' });
const controllers: Controller[] = [];
const clients: FeedClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.closeAndWait()));
  await Promise.all(controllers.splice(0).map((c) => c.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const txRequest = (id: string) => ({ evse_id: 'DE*CHC*E1', transaction_id: id, identification_status: 'ASSIGNED', identification_type: 'ISO14443', identification_flags: [], identification_data: '04A2B3C4' });

async function setup(meter: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'cc-feedp-'));
  dirs.push(dir);
  const config = parseControllerConfig({
    meters: [{ name: 'evse1', evse_id: 'DE*CHC*E1', ip_address: '127.0.0.1', reading_interval_ms: 150, warmup_ms: 0, ...meter }],
    feed: { port: 0, token: TOKEN, allow_read_only: true, heartbeat_ms: 1000 }, state_dir: dir,
  }, 'test', {});
  const controller = await startController({ config, log, shutdownGraceMs: 300 });
  controllers.push(controller);
  const connect = async (token?: string) => {
    const client = new FeedClient(controller.feedUrl, token ? { token } : {});
    clients.push(client);
    await client.opened;
    await client.next((m) => m.type === 'snapshot');
    return client;
  };
  return { controller, connect };
}

async function waitForStatus(client: FeedClient, status: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    const snapshot = (await client.command({ type: 'get_snapshot' })).payload.result;
    if (snapshot.machines.find((x: { machine: string }) => x.machine === 'meter:evse1')?.status === status) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`meter never became ${status}`);
}

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('public state messages', () => {
  it('carry a transaction as idle → starting → running → stopping → idle, with public event names only', async () => {
    const sim = await meterSim();
    const { connect } = await setup({ port: sim.port });
    const client = await connect(TOKEN);
    await waitForStatus(client, 'idle');
    const since = client.messages.at(-1)!.seq;
    expect((await client.command({ type: 'start_transaction', request: txRequest('tx-p1') })).payload.result.status).toBe('OK');
    await client.next((m) => m.type === 'reading', 3000, client.messages.at(-1)!.seq);
    expect((await client.command({ type: 'stop_transaction', transactionId: 'tx-p1' })).payload.result.status).toBe('OK');
    await client.next((m) => m.type === 'state' && m.payload.to === 'idle', 3000, since);
    await client.next((m) => m.type === 'reading', 3000, client.messages.at(-1)!.seq);
    const states = client.messages.filter((m) => m.seq > since && m.type === 'state' && m.payload.machine === 'meter:evse1').map((m) => m.payload);
    expect(states).toEqual([
      { machine: 'meter:evse1', meter: 'evse1', evseId: 'DE*CHC*E1', from: 'idle', to: 'starting', event: 'start.requested' },
      { machine: 'meter:evse1', meter: 'evse1', evseId: 'DE*CHC*E1', from: 'starting', to: 'running', event: 'transaction.started' },
      { machine: 'meter:evse1', meter: 'evse1', evseId: 'DE*CHC*E1', from: 'running', to: 'stopping', event: 'stop.requested' },
      { machine: 'meter:evse1', meter: 'evse1', evseId: 'DE*CHC*E1', from: 'stopping', to: 'idle', event: 'transaction.stopped' },
    ]);
    // Nothing a client without a subscription gets names XState's internals.
    expect(client.messages.some((m) => m.type === 'chart')).toBe(false);
    expect(client.messages.filter((m) => m.type !== 'command.result').map((m) => JSON.stringify(m)).filter((t) => /xstate\.|actor\.\d/.test(t))).toEqual([]);
  }, 20_000);

  it('report an unreachable meter once, and keep it unreachable while attempts go on', async () => {
    const { connect } = await setup({ port: await deadPort(), resilience_initial_connection_retries: 1, resilience_initial_connection_retry_delay: 100 });
    const client = await connect();
    await client.next((m) => m.type === 'state' && m.payload.to === 'unreachable');
    await new Promise((r) => setTimeout(r, 1200)); // several more attempts at 100 ms
    const changes = client.messages.filter((m) => m.type === 'state' && m.payload.machine.startsWith('meter:')).map((m) => `${m.payload.from}→${m.payload.to}:${m.payload.event}`);
    expect(changes.at(-1)).toBe('connecting→unreachable:connection.failed');
    expect(changes.filter((c) => c.includes('→unreachable'))).toHaveLength(1);
    const snapshot = await client.command({ type: 'get_snapshot' });
    const meterSummary = snapshot.payload.result.machines.find((m: { machine: string }) => m.machine === 'meter:evse1');
    expect(meterSummary).toMatchObject({ machine: 'meter:evse1', status: 'unreachable' });
    expect(METER_STATUSES).toContain(meterSummary.status);
  }, 20_000);
});

describe('chart subscription', () => {
  it('streams every leaf change to a subscribed read-only client, normalized and sanitized, until it unsubscribes', async () => {
    const sim = await meterSim();
    const { connect } = await setup({ port: sim.port });
    const viewer = await connect();
    const other = await connect(TOKEN);
    const subscribed = await viewer.command({ type: 'subscribe', topics: ['chart'] });
    expect(subscribed.payload).toMatchObject({ command: 'subscribe', ok: true, result: { topics: ['chart'] } });
    const tick = await viewer.next((m) => m.type === 'chart' && m.payload.to.includes('operational.readings.reading'));
    expect(tick.payload).toMatchObject({ machine: 'meter:evse1', from: ['operational.readings.waiting'], event: { type: 'TICK' }, context: { meterId: '1211751603' } });
    expect(tick.payload.state).toContain('operational.transaction.idle');
    const done = await viewer.next((m) => m.type === 'chart' && m.payload.from.includes('operational.readings.reading'), 3000, tick.seq);
    expect(done.payload.event.type).toBe('xstate.done.actor.meter.operational.readings.reading');
    expect(done.payload.event.payload.output).toMatchObject({ energyImportTotal: expect.any(Number) });

    await waitForStatus(other, 'idle');
    expect((await other.command({ type: 'start_transaction', request: txRequest('tx-c1') })).payload.result.status).toBe('OK');
    const start = await viewer.next((m) => m.type === 'chart' && m.payload.event.type === 'START_TRANSACTION');
    expect(start.payload.event.payload.req).toMatchObject({ transaction_id: 'tx-c1', identification_data: '[redacted]' });
    expect(JSON.stringify(viewer.messages)).not.toContain('04A2B3C4');
    expect(viewer.messages.filter((m) => m.type === 'chart').map((m) => m.payload.event.type).filter((t: string) => /actor\.\d/.test(t))).toEqual([]);
    expect(other.messages.some((m) => m.type === 'chart')).toBe(false);

    expect((await viewer.command({ type: 'unsubscribe', topics: ['chart'] })).payload).toMatchObject({ ok: true, result: { topics: [] } });
    const after = viewer.messages.at(-1)!.seq;
    await viewer.next((m) => m.type === 'reading', 3000, after);
    await viewer.next((m) => m.type === 'reading', 3000, viewer.messages.at(-1)!.seq);
    expect(viewer.messages.filter((m) => m.seq > after && m.type === 'chart')).toEqual([]);
    expect((await viewer.command({ type: 'subscribe', topics: ['everything'] })).payload).toMatchObject({ code: 'invalid' });
  }, 20_000);
});

describe('shutdown with a client that stopped reading', () => {
  it('stops well within 10 s', async () => {
    const sim = await meterSim();
    const { controller } = await setup({ port: sim.port });
    const socket = new WebSocket(`${controller.feedUrl}?token=${TOKEN}`);
    await new Promise<void>((resolve, reject) => { socket.once('message', () => resolve()); socket.once('error', reject); });
    // Stop reading: the kernel buffers fill with readings and the close handshake is never answered.
    const raw = (socket as unknown as { _socket: import('node:net').Socket })._socket;
    raw.pause();
    await new Promise((r) => setTimeout(r, 1000));
    controllers.splice(controllers.indexOf(controller), 1);
    const t0 = performance.now();
    await controller.stop();
    const elapsed = performance.now() - t0;
    raw.destroy();
    expect(elapsed).toBeLessThan(5000);
  }, 45_000);
});

describe('closeHttpServer', () => {
  it('destroys a connection whose request is never answered after the grace period', async () => {
    const server = createHttpServer(() => undefined); // never answers
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const failed = new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/' }, () => resolve('answered'));
      req.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message));
      req.end();
    });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    await closeHttpServer(server, 300);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(await failed).toBe('ECONNRESET');
  });
});
