/**
 * The controller composition end to end: meters on the LEM DCBM simulator, registration on the 2030.5 test
 * server over mTLS, and the WebSocket feed with its command channel, all on loopback ephemeral ports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal } from '../../src/adapters/journal/journal.js';
import { parseControllerConfig } from '../../src/config/controller.config.js';
import { createLogger } from '../../src/logger.js';
import { startController, type Controller } from '../../src/main.js';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';
import { startSep2Server, type Sep2Server } from '../../src/simulators/sep2-server/index.js';
import { FeedClient } from '../helpers/feed-client.js';
import { meterSim } from '../helpers/meter-sim.js';
import { verifyOcmf } from '../helpers/ocmf-verify.js';
import { writeFileSync } from 'node:fs';
import { pino } from 'pino';

const TOKEN = 'test-token-0123456789abcdef';
const log = createLogger({ level: 'silent' });
const controllers: Controller[] = [];
const clients: FeedClient[] = [];
const servers: Sep2Server[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.closeAndWait()));
  await Promise.all(controllers.splice(0).map((c) => c.stop()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const txRequest = (id: string, evse = 'DE*CHC*E1') => ({ evse_id: evse, transaction_id: id, identification_status: 'ASSIGNED', identification_type: 'ISO14443', identification_flags: [] });

async function setup(options: { meters?: number; registration?: boolean; registrationDown?: boolean; device?: Record<string, unknown>; feed?: Record<string, unknown>; log?: typeof log } = {}) {
  const sims = await Promise.all(Array.from({ length: options.meters ?? 1 }, (_, i) => meterSim({ meterId: `10${i}` })));
  const dir = mkdtempSync(join(tmpdir(), 'cc-ctl-'));
  dirs.push(dir);
  let registration: unknown;
  let sep2: Sep2Server | undefined;
  let bringUp: (() => Promise<Sep2Server>) | undefined;
  if (options.registration) {
    const pki = createSep2Pki();
    const serverCert = pki.issueServer(['127.0.0.1']);
    const device = pki.issueDevice('CTL');
    const tls = { keyPem: serverCert.keyPem, certPem: serverCert.certPem, caPem: pki.sercaPem };
    sep2 = await startSep2Server({ profile: 'envoy', tls });
    servers.push(sep2);
    if (options.registrationDown) {
      // The WAN link is down at boot: nothing listens on the server's port until bringUp().
      const port = sep2.port;
      await sep2.close();
      bringUp = async () => {
        const up = await startSep2Server({ profile: 'envoy', tls, port });
        servers.push(up);
        return up;
      };
    }
    for (const [name, pem] of [['chain.pem', device.chainPem], ['key.pem', device.keyPem], ['ca.pem', pki.sercaPem]] as const) writeFileSync(join(dir, name), pem);
    registration = {
      server: { url: sep2.url }, tls: { certificate: join(dir, 'chain.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'ca.pem') },
      mode: 'device', pin: 111115, policy: { retryBaseMs: 20, retryMaxMs: 100 }, device: { nmi: '4103861111', der: { rtgMaxW: 50000, settings: { setMaxW: 50000 }, status: {} }, ...options.device },
    };
  }
  const config = parseControllerConfig({
    meters: sims.map((sim, i) => ({ name: `evse${i + 1}`, evse_id: `DE*CHC*E${i + 1}`, ip_address: '127.0.0.1', port: sim.port, reading_interval_ms: 200, warmup_ms: 0 })),
    ...(registration ? { registration } : {}),
    feed: { port: 0, token: TOKEN, heartbeat_ms: 1000, ...options.feed },
    state_dir: dir,
  }, 'test', {});
  const controller = await startController({ config, log: options.log ?? log, shutdownGraceMs: 300 });
  controllers.push(controller);
  const connect = async (token: string | null = TOKEN, header = false) => {
    const client = new FeedClient(controller.feedUrl, { ...(token !== null ? { token } : {}), header });
    clients.push(client);
    await client.opened.catch(() => undefined);
    return client;
  };
  return { controller, sims, sep2, connect, dir, config, bringUp };
}

describe('shutdown', () => {
  it('leaves a stop that cannot finish in the journal and finishes it at the next start', async () => {
    const { controller, sims, connect, dir } = await setup();
    const client = await connect();
    await client.next((m) => m.type === 'reading');
    expect((await client.command({ type: 'start_transaction', request: txRequest('tx-late') })).payload.result.status).toBe('OK');
    sims[0]!.faults.addResponseFault({ endpoint: 'legal', method: 'PUT', delayMs: 30_000 });
    client.send({ type: 'stop_transaction', requestId: 'late', transactionId: 'tx-late' });
    const entry = controller.meters.get('evse1')!;
    for (let i = 0; i < 100 && !entry.driver.actor.getSnapshot().matches({ operational: { transaction: 'stopping' } }); i += 1) await new Promise((r) => setTimeout(r, 20));
    controllers.splice(controllers.indexOf(controller), 1);
    await controller.stop();
    const journal = Journal.open(join(dir, 'journal.sqlite'));
    expect(journal.transaction('evse1', 'tx-late')).toMatchObject({ state: 'stop_requested', ocmf: null });
    journal.close();
    expect(sims[0]!.device.store.running()?.transactionId).toBe('tx-late');

    sims[0]!.faults.clear();
    const config = parseControllerConfig({
      meters: [{ name: 'evse1', evse_id: 'DE*CHC*E1', ip_address: '127.0.0.1', port: sims[0]!.port, reading_interval_ms: 200, warmup_ms: 0 }],
      feed: { port: 0, token: TOKEN }, state_dir: dir,
    }, 'test', {});
    const restarted = await startController({ config, log });
    controllers.push(restarted);
    const again = new FeedClient(restarted.feedUrl, { token: TOKEN });
    clients.push(again);
    const stopped = await again.next((m) => m.type === 'transaction.stopped' && m.payload.transactionId === 'tx-late');
    expect(stopped.payload).toMatchObject({ final: true, response: { status: 'OK' }, key: 'ocmf/evse1/tx-late' });
    expect(stopped.payload.ocmf).toContain('"TX":"E"');
    expect(sims[0]!.device.store.running()).toBeUndefined();
    expect(restarted.journal.transaction('evse1', 'tx-late')).toMatchObject({ state: 'closed', recordKey: 'ocmf/evse1/tx-late', publishedAt: expect.any(String) });
    expect(restarted.journal.steps('evse1', 'tx-late').map((s) => s.step)).toEqual([
      'start requested', 'started', 'stop requested', 'recovery stop requested', 'record stored', 'published',
    ]);
  });
});

describe('feed', () => {
  it('sends the snapshot first, then readings with increasing seq, and no state message for reading ticks', async () => {
    const { connect } = await setup();
    const client = await connect();
    const first = await client.next(() => true);
    expect(first).toMatchObject({ v: 1, seq: 1, type: 'snapshot' });
    expect(first.payload).toHaveProperty('machines');
    expect(first.payload).toMatchObject({ canCommand: true, openTransactions: [], faults: [] });
    const reading = await client.next((m) => m.type === 'reading');
    expect(reading.payload).toMatchObject({ meter: 'evse1', evseId: 'DE*CHC*E1', reading: { meter_id: '100', energy_Wh_import: { total: 188977 } } });
    const meterRow = async () => (await client.command({ type: 'get_snapshot' })).payload.result.machines.find((x: { machine: string }) => x.machine === 'meter:evse1');
    for (let i = 0; i < 100 && (await meterRow()).status !== 'idle'; i += 1) await new Promise((r) => setTimeout(r, 50));
    const row = await meterRow();
    expect(row).toMatchObject({ machine: 'meter:evse1', meter: 'evse1', evseId: 'DE*CHC*E1', status: 'idle' });
    expect(row.state).toContain('operational.transaction.idle');
    // Reading ticks once idle: readings, and no state message (the chart's reading steps are not public).
    const since = client.messages.at(-1)!.seq;
    let last = since;
    for (let i = 0; i < 3; i += 1) last = (await client.next((m) => m.type === 'reading', 3000, last)).seq;
    expect(client.messages.filter((m) => m.seq > since && m.type === 'state')).toEqual([]);
    const seqs = client.messages.map((m) => m.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it('starts and stops a transaction through the command channel and publishes the OCMF', async () => {
    const { connect, sims } = await setup();
    const client = await connect();
    await client.next((m) => m.type === 'reading');
    const started = await client.command({ type: 'start_transaction', request: txRequest('tx-feed-1') });
    expect(started.payload).toMatchObject({ command: 'start_transaction', ok: true, result: { status: 'OK' } });
    await client.next((m) => m.type === 'transaction.started' && m.payload.transactionId === 'tx-feed-1');
    const snapshot = await client.command({ type: 'get_snapshot' });
    expect(snapshot.payload.result.openTransactions).toMatchObject([{ meter: 'evse1', transactionId: 'tx-feed-1' }]);
    const stopped = await client.command({ type: 'stop_transaction', transactionId: 'tx-feed-1' });
    expect(stopped.payload.result).toMatchObject({ status: 'OK', signed_meter_value: { encoding_method: 'OCMF' } });
    const event = await client.next((m) => m.type === 'transaction.stopped');
    expect(event.payload).toMatchObject({ meter: 'evse1', evseId: 'DE*CHC*E1', transactionId: 'tx-feed-1', final: true });
    expect(verifyOcmf(event.payload.ocmf, sims[0]!.device.keys.publicKeyOcmf)).toBe(true);
    expect(sims[0]!.requests.entries().filter((r) => r.method === 'PUT' && r.path === '/v2/legal')).toHaveLength(1);
  });

  it('runs transactions on two meters at once and keeps them apart', async () => {
    const { connect, sims } = await setup({ meters: 2 });
    const client = await connect();
    await client.next((m) => m.type === 'reading' && m.payload.meter === 'evse2');
    const missing = await client.command({ type: 'start_transaction', request: txRequest('tx-x') });
    expect(missing.payload).toMatchObject({ ok: false, error: expect.stringContaining('name the meter') });
    const [a, b] = await Promise.all([
      client.command({ type: 'start_transaction', meter: 'evse1', request: txRequest('tx-a', 'DE*CHC*E1') }),
      client.command({ type: 'start_transaction', meter: 'evse2', request: txRequest('tx-b', 'DE*CHC*E2') }),
    ]);
    expect([a.payload.result.status, b.payload.result.status]).toEqual(['OK', 'OK']);
    expect(sims[0]!.device.store.running()?.transactionId).toBe('tx-a');
    expect(sims[1]!.device.store.running()?.transactionId).toBe('tx-b');
    const [sa, sb] = await Promise.all([
      client.command({ type: 'stop_transaction', meter: 'evse1', transactionId: 'tx-a' }),
      client.command({ type: 'stop_transaction', meter: 'evse2', transactionId: 'tx-b' }),
    ]);
    expect(verifyOcmf(sa.payload.result.signed_meter_value.signed_meter_data, sims[0]!.device.keys.publicKeyOcmf)).toBe(true);
    expect(verifyOcmf(sb.payload.result.signed_meter_value.signed_meter_data, sims[1]!.device.keys.publicKeyOcmf)).toBe(true);
    const stops = client.messages.filter((m) => m.type === 'transaction.stopped').map((m) => [m.payload.meter, m.payload.transactionId]);
    expect(stops.sort()).toEqual([['evse1', 'tx-a'], ['evse2', 'tx-b']]);
    expect((await client.command({ type: 'stop_transaction', meter: 'nope', transactionId: 'x' })).payload.error).toContain('no meter named "nope"');
  });

  it('publishes registration progress up to registered, and re-registers on command', async () => {
    const { connect, sep2 } = await setup({ registration: true });
    const client = await connect();
    const done = await client.next((m) => m.type === 'registration' && m.payload.status === 'registered');
    expect(done.payload).toMatchObject({ site: 'site-1', endDevice: expect.stringMatching(/\/edev\/1$/) });
    const steps = client.messages.filter((m) => m.type === 'registration.progress').map((m) => m.payload.step);
    expect(steps.slice(-3)).toEqual(['putDerStatus', 'putConnectionPoint', 'registered']);
    const snapshot = await client.command({ type: 'get_snapshot' });
    expect(snapshot.payload.result.registration).toMatchObject([{ site: 'site-1', status: 'registered' }]);
    expect(snapshot.payload.result.machines.find((x: { machine: string }) => x.machine === 'registration:site-1').state).toEqual(['registered']);
    const again = await client.command({ type: 'register' });
    expect(again.payload).toMatchObject({ ok: true, result: [{ ok: true, site: 'site-1' }] });
    expect(sep2!.requests.filter((r) => r.method === 'POST' && r.path === '/edev')).toHaveLength(1);
  });

  it('keeps registering while the 2030.5 server is down: retrying on the feed and one warn line per attempt, registered once it is up', async () => {
    const lines: Record<string, unknown>[] = [];
    const capture = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const { connect, bringUp } = await setup({ registration: true, registrationDown: true, log: capture });
    const client = await connect();
    // Far past the 4 attempts after which the old client gave up for good.
    const eighth = await client.next((m) => m.type === 'registration' && m.payload.status === 'retrying' && m.payload.attempt === 8, 10_000);
    expect(eighth.payload).toMatchObject({ site: 'site-1', step: 'discover', lastError: { kind: 'transport', reason: 'refused' } });
    expect(Date.parse(eighth.payload.nextAttemptAt as string)).toBeGreaterThan(Date.parse(eighth.ts) - 1);
    const snapshot = await client.command({ type: 'get_snapshot' });
    expect(snapshot.payload.result.registration[0]).toMatchObject({ status: 'retrying', attempt: expect.any(Number) });
    const retrying = client.messages.filter((m) => m.type === 'registration' && m.payload.status === 'retrying').length;
    const warns = lines.filter((l) => l.level === 40 && l.component === 'registration' && /next attempt at/.test(String(l.msg)));
    expect(warns.length).toBeGreaterThanOrEqual(8);
    expect(Math.abs(warns.length - retrying)).toBeLessThanOrEqual(1); // one warn line per attempt
    expect(client.messages.some((m) => m.type === 'registration' && m.payload.status === 'failed')).toBe(false);
    const up = await bringUp!();
    const done = await client.next((m) => m.type === 'registration' && m.payload.status === 'registered', 10_000);
    expect(done.payload).toMatchObject({ site: 'site-1', endDevice: expect.stringMatching(/\/edev\/1$/) });
    expect(up.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('reports a configured step the server offers no link for on the feed, in the snapshot and in the log', async () => {
    const lines: Record<string, unknown>[] = [];
    const capture = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    // envoy links no DeviceInformation: the configured one cannot be sent, and that must not pass in silence.
    const { connect } = await setup({ registration: true, log: capture, device: { deviceInformation: { mfID: 1, mfModel: 'DC-150', mfSerNum: 'SN1' } } });
    const client = await connect();
    const done = await client.next((m) => m.type === 'registration' && m.payload.status === 'registered');
    expect(done.payload.warnings).toEqual([{ step: 'putDeviceInformation', reason: expect.stringMatching(/DeviceInformationLink/) }]);
    expect(client.messages.filter((m) => m.type === 'registration.warning').map((m) => m.payload.step)).toEqual(['putDeviceInformation']);
    const snapshot = await client.command({ type: 'get_snapshot' });
    expect(snapshot.payload.result.registration[0].warnings).toHaveLength(1);
    expect(lines.filter((l) => l.level === 40 && /putDeviceInformation skipped: .*DeviceInformationLink/.test(String(l.msg)))).toHaveLength(1);
  });

  it('does not register again after a restart when the journal has the same registration', async () => {
    const { controller, connect, sep2, config } = await setup({ registration: true });
    const client = await connect();
    await client.next((m) => m.type === 'registration' && m.payload.status === 'registered');
    controllers.splice(controllers.indexOf(controller), 1);
    await controller.stop();
    const before = sep2!.requests.length;
    const restarted = await startController({ config, log });
    controllers.push(restarted);
    const again = new FeedClient(restarted.feedUrl, { token: TOKEN });
    clients.push(again);
    const snapshot = await again.next((m) => m.type === 'snapshot');
    expect(snapshot.payload.registration).toMatchObject([{ site: 'site-1', status: 'registered', endDevice: expect.stringMatching(/\/edev\/1$/) }]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Registration reads the clock, POSTs the EndDevice, PUTs the DERCapability and the ConnectionPoint; the DER
    // client only reads its programs, and the telemetry writes usage points, readings and the DER's status.
    const registrationRequests = () => sep2!.requests.slice(before)
      .filter((r) => r.path.startsWith('/tm') || (r.method === 'POST' && r.path === '/edev') || (r.method === 'PUT' && (r.path.endsWith('/dercap') || r.path.endsWith('/cp'))));
    expect(registrationRequests()).toEqual([]);
    // The registered site follows the utility at once: its DER client reads the EndDevice's programs.
    expect(sep2!.requests.slice(before).some((r) => r.path === '/edev/1' || r.path.includes('/fsa'))).toBe(true);
    const forced = await again.command({ type: 're-register' });
    expect(forced.payload).toMatchObject({ ok: true, result: [{ ok: true, site: 'site-1' }] });
    expect(registrationRequests().length).toBeGreaterThan(0);
  });

  it('refuses commands without the token, and unauthenticated clients unless read-only is allowed', async () => {
    const strict = await setup();
    const anonymous = await strict.connect(null);
    await anonymous.next((m) => m.type === 'error');
    expect(anonymous.messages[0]?.payload).toMatchObject({ code: 'unauthorized' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(anonymous.closed?.code).toBe(4401);
    const wrong = await strict.connect('wrong-token-0000000000');
    await wrong.next((m) => m.type === 'error' && m.payload.code === 'unauthorized');
    const viaHeader = await strict.connect(TOKEN, true);
    expect((await viaHeader.next(() => true)).payload).toMatchObject({ canCommand: true });

    const open = await setup({ feed: { allow_read_only: true } });
    const reader = await open.connect(null);
    expect((await reader.next(() => true)).payload).toMatchObject({ canCommand: false });
    const refused = await reader.command({ type: 'start_transaction', request: txRequest('tx-no') });
    expect(refused).toMatchObject({ type: 'error', payload: { code: 'unauthorized' } });
    expect(open.sims[0]!.requests.entries().filter((r) => r.method === 'POST')).toHaveLength(0);
    expect((await reader.command({ type: 'get_snapshot' })).payload.ok).toBe(true);
    reader.send({ type: 'auth', token: TOKEN });
    await reader.next((m) => m.type === 'command.result' && m.payload.command === 'auth');
    expect((await reader.command({ type: 'start_transaction', request: txRequest('tx-yes') })).payload.result.status).toBe('OK');
  });

  it('answers malformed JSON, unknown commands, invalid and oversize messages with errors and stays up', async () => {
    const { connect } = await setup({ feed: { max_command_bytes: 1024, max_payload_bytes: 4096 } });
    const client = await connect();
    await client.next((m) => m.type === 'snapshot');
    client.send('{not json');
    expect((await client.next((m) => m.type === 'error')).payload).toMatchObject({ code: 'malformed' });
    expect((await client.command({ type: 'launch_rocket' })).payload).toMatchObject({ code: 'unknown_command' });
    expect((await client.command({ type: 'start_transaction', request: { evse_id: 1 } })).payload).toMatchObject({ code: 'invalid', message: expect.stringContaining('transaction_id') });
    const before = client.messages.at(-1)!.seq;
    client.send({ type: 'stop_transaction', requestId: 'big', transactionId: 'x', padding: 'p'.repeat(2000) });
    expect((await client.next((m) => m.type === 'error', 3000, before)).payload).toMatchObject({ code: 'payload_too_large' });
    expect((await client.command({ type: 'get_snapshot' })).payload.ok).toBe(true);
    client.send(JSON.stringify({ type: 'get_snapshot', requestId: 'big', pad: 'x'.repeat(10_000) }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.closed?.code).toBe(1009); // beyond maxPayload: ws closes the connection
    const fresh = await connect();
    expect((await fresh.next(() => true)).type).toBe('snapshot');
  });

  it('drops a client that stops answering pings', async () => {
    const { connect, controller } = await setup({ feed: { heartbeat_ms: 150 } });
    const quiet = await connect();
    const live = await connect();
    await quiet.next((m) => m.type === 'snapshot');
    await live.next((m) => m.type === 'snapshot');
    expect(controller.feed.clientCount).toBe(2);
    (quiet.socket as unknown as { _socket: { pause(): void } })._socket.pause(); // its pongs stop
    for (let i = 0; i < 50 && controller.feed.clientCount > 1; i += 1) await new Promise((r) => setTimeout(r, 50));
    expect(controller.feed.clientCount).toBe(1);
    quiet.socket.terminate();
    const last = live.messages.at(-1)!.seq;
    await live.next((m) => m.type === 'reading', 3000, last);
  });

  it('evicts a slow client while the others keep receiving', async () => {
    const { connect, controller } = await setup({ feed: { max_buffered_bytes: 64 * 1024 } });
    const slow = await connect();
    const healthy = await connect();
    await slow.next((m) => m.type === 'snapshot');
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause(); // stops reading: its backlog grows
    // Its own snapshot answers pile up unread until the kernel buffers are full, then in ws's buffer.
    for (let i = 0; i < 40_000 && controller.feed.evicted === 0; i += 1) {
      slow.send({ type: 'get_snapshot', requestId: `s${i}` });
      if (i % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(controller.feed.evicted).toBe(1);
    slow.socket.terminate();
    const last = healthy.messages.at(-1)!.seq;
    await healthy.next((m) => m.type === 'reading', 3000, last);
  });
});
