/**
 * The journal in the running controller: nothing starts twice, a stored record answers a repeated stop, and a
 * restart settles each unfinished row the way the ledger's table says, against the meter simulator over sockets.
 * Crashes are staged by writing the journal as a killed process would have left it (the kill -9 suite does it for real).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal } from '../../src/adapters/journal/journal.js';
import { parseControllerConfig } from '../../src/config/controller.config.js';
import { createLogger } from '../../src/logger.js';
import { startController, type Controller } from '../../src/main.js';
import type { MeterSimulator } from '../../src/simulators/lem-dcbm/index.js';
import { runCli } from '../helpers/cli.js';
import { FeedClient } from '../helpers/feed-client.js';
import { meterSim, START_V1 } from '../helpers/meter-sim.js';
import { verifyOcmf } from '../helpers/ocmf-verify.js';

const TOKEN = 'journal-token-0123456789';
const log = createLogger({ level: 'silent' });
const controllers: Controller[] = [];
const clients: FeedClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.closeAndWait()));
  await Promise.all(controllers.splice(0).map((c) => c.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const txRequest = (id: string) => ({ evse_id: 'DE*JNL*E1', transaction_id: id, identification_status: 'ASSIGNED', identification_type: 'ISO14443', identification_flags: [] });
const requests = (sim: MeterSimulator, method: string, path: RegExp) => sim.requests.entries().filter((r) => r.method === method && path.test(r.path));

async function controllerOn(sim: MeterSimulator, dir: string, options: { meter?: Record<string, unknown>; recoveryIntervalMs?: number } = {}) {
  const config = parseControllerConfig({
    meters: [{ name: 'evse1', evse_id: 'DE*JNL*E1', ip_address: '127.0.0.1', port: sim.port, reading_interval_ms: 200, warmup_ms: 0, resilience_transaction_request_retry_delay: 20, ...options.meter }],
    feed: { port: 0, token: TOKEN }, state_dir: dir,
  }, 'test', {});
  const controller = await startController({ config, log, shutdownGraceMs: 300, recoveryIntervalMs: options.recoveryIntervalMs });
  controllers.push(controller);
  const client = new FeedClient(controller.feedUrl, { token: TOKEN });
  clients.push(client);
  await client.opened;
  return { controller, client };
}

async function stopController(controller: Controller): Promise<void> {
  controllers.splice(controllers.indexOf(controller), 1);
  await controller.stop();
}

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cc-journal-'));
  dirs.push(dir);
  return dir;
}

/** A state dir whose journal holds what a process killed at that point would have left. */
function leftByACrash(write: (journal: Journal) => void): string {
  const dir = freshDir();
  const journal = Journal.open(join(dir, 'journal.sqlite'));
  write(journal);
  journal.close();
  return dir;
}

/** Waits (bounded) until the journal row reaches one of the states. */
async function rowState(journal: Journal, id: string, states: string[]): Promise<string | undefined> {
  for (let i = 0; i < 150; i += 1) {
    const state = journal.transaction('evse1', id)?.state;
    if (state && states.includes(state)) return state;
    await new Promise((r) => setTimeout(r, 20));
  }
  return journal.transaction('evse1', id)?.state;
}

describe('journal: commands', () => {
  it('never starts a transaction id twice and answers a repeated stop from the stored record', async () => {
    const sim = await meterSim();
    const { controller, client } = await controllerOn(sim, freshDir());
    await client.next((m) => m.type === 'reading');
    expect((await client.command({ type: 'start_transaction', request: txRequest('tx-once') })).payload.result.status).toBe('OK');
    const again = await client.command({ type: 'start_transaction', request: txRequest('tx-once') });
    expect(again.payload.result.status).toBe('OK'); // the same transaction, still running: the same answer, no POST
    expect(requests(sim, 'POST', /\/legal$/)).toHaveLength(1);

    const first = await client.command({ type: 'stop_transaction', transactionId: 'tx-once' });
    expect(first.payload.result.status).toBe('OK');
    const published = await client.next((m) => m.type === 'transaction.stopped' && m.payload.transactionId === 'tx-once');
    expect(published.payload.key).toBe('ocmf/evse1/tx-once');
    const repeat = await client.command({ type: 'stop_transaction', transactionId: 'tx-once' });
    expect(repeat.payload.result).toEqual(first.payload.result);
    expect(requests(sim, 'PUT', /\/legal/)).toHaveLength(1);
    expect(client.messages.filter((m) => m.type === 'transaction.stopped' && m.payload.transactionId === 'tx-once')).toHaveLength(1);

    const reuse = await client.command({ type: 'start_transaction', request: txRequest('tx-once') });
    expect(reuse.payload.result).toMatchObject({ status: 'UNEXPECTED_ERROR', error: expect.stringContaining('used before (journal: closed)') });
    expect(requests(sim, 'POST', /\/legal$/)).toHaveLength(1);
    expect(controller.journal.steps('evse1', 'tx-once').map((s) => s.step)).toEqual(['start requested', 'started', 'stop requested', 'record stored', 'published']);
  });

  it('lets a start that the meter refused be tried again with the same id', async () => {
    const sim = await meterSim();
    const { controller, client } = await controllerOn(sim, freshDir());
    await client.next((m) => m.type === 'reading');
    sim.faults.addResponseFault({ endpoint: 'legal', method: 'POST', status: 500, times: 10 });
    expect((await client.command({ type: 'start_transaction', request: txRequest('tx-retry') })).payload.result.status).toBe('UNEXPECTED_ERROR');
    expect(controller.journal.transaction('evse1', 'tx-retry')?.state).toBe('start_failed');
    sim.faults.clear();
    expect((await client.command({ type: 'start_transaction', request: txRequest('tx-retry') })).payload.result.status).toBe('OK');
    expect(controller.journal.transaction('evse1', 'tx-retry')?.state).toBe('open');
  });
});

describe('journal commands', () => {
  it('lists the journal and exports every stored record as JSON lines, beside the running controller', async () => {
    const sim = await meterSim();
    const dir = freshDir();
    const { client } = await controllerOn(sim, dir);
    await client.next((m) => m.type === 'reading');
    for (const id of ['tx-a', 'tx-b']) {
      await client.command({ type: 'start_transaction', request: txRequest(id) });
      await client.command({ type: 'stop_transaction', transactionId: id });
    }
    await client.command({ type: 'start_transaction', request: txRequest('tx-open') });

    const list = await runCli(['journal', 'list', '--state-dir', dir, '--steps']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/\tevse1\ttx-a\tclosed\tstored\t\d{4}-/);
    expect(list.stdout).toMatch(/\tevse1\ttx-open\topen\t-\t-/);
    expect(list.stdout).toContain('\tstart requested');
    expect(list.stdout).toContain('3 transaction(s)');

    const exported = await runCli(['journal', 'export', '--format', 'jsonl', '--state-dir', dir]);
    expect(exported.code).toBe(0);
    const records = exported.stdout.trim().split('\n').map((line) => JSON.parse(line) as { key: string; ocmf: string; publicKey: string });
    expect(records.map((r) => r.key)).toEqual(['ocmf/evse1/tx-a', 'ocmf/evse1/tx-b']);
    for (const record of records) expect(verifyOcmf(record.ocmf, sim.device.keys.publicKeyOcmf)).toBe(true);

    expect(await runCli(['journal', 'export', '--format', 'csv', '--state-dir', dir])).toMatchObject({ code: 2, stderr: expect.stringContaining('--format must be one of jsonl') });
    expect(await runCli(['journal', 'list', '--state-dir', join(dir, 'nowhere')])).toMatchObject({ code: 1, stderr: expect.stringContaining('there is no journal there') });
  });
});

describe('journal: recovery after a crash', () => {
  it('adopts a start that had no answer when the meter has it open, and sends no second POST', async () => {
    const sim = await meterSim();
    const dir = leftByACrash((j) => {
      j.startRequested('evse1', 'DE*JNL*E1', 'tx-mid-start', 'req-1', txRequest('tx-mid-start'));
    });
    sim.device.start({ ...START_V1, transactionId: 'tx-mid-start', clientId: ',tx-mid-start' }, 'v1'); // the POST had reached the meter

    const { controller, client } = await controllerOn(sim, dir);
    expect(await rowState(controller.journal, 'tx-mid-start', ['open'])).toBe('open');
    expect(requests(sim, 'POST', /\/legal$/)).toHaveLength(0);
    const snapshot = await client.command({ type: 'get_snapshot' });
    expect(snapshot.payload.result.openTransactions).toMatchObject([{ transactionId: 'tx-mid-start' }]);
    const retried = await client.command({ type: 'start_transaction', request: txRequest('tx-mid-start') });
    expect(retried.payload.result).toEqual({ status: 'OK' }); // the upstream's retry of the lost answer
    expect(requests(sim, 'POST', /\/legal$/)).toHaveLength(0);
    const stopped = await client.command({ type: 'stop_transaction', transactionId: 'tx-mid-start' });
    expect(stopped.payload.result).toMatchObject({ status: 'OK', signed_meter_value: { encoding_method: 'OCMF' } });
  });

  it('still knows a start was never confirmed after a recovery that was itself interrupted', async () => {
    const sim = await meterSim();
    const dir = leftByACrash((j) => {
      j.startRequested('evse1', 'DE*JNL*E1', 'tx-twice', 'req-1', txRequest('tx-twice'));
      j.stopRequested('evse1', 'DE*JNL*E1', 'tx-twice', 'req-2', 'recovery'); // the first recovery died here
    });
    const { controller } = await controllerOn(sim, dir);
    expect(await rowState(controller.journal, 'tx-twice', ['start_failed', 'lost'])).toBe('start_failed');
  });

  it('marks a start that never reached the meter as failed, and lets it be tried again', async () => {
    const sim = await meterSim();
    const dir = leftByACrash((j) => {
      j.startRequested('evse1', 'DE*JNL*E1', 'tx-never', 'req-1', txRequest('tx-never'));
    });
    const { controller, client } = await controllerOn(sim, dir);
    expect(await rowState(controller.journal, 'tx-never', ['start_failed'])).toBe('start_failed');
    expect(requests(sim, 'PUT', /\/legal/)).toHaveLength(0);
    expect((await client.command({ type: 'start_transaction', request: txRequest('tx-never') })).payload.result.status).toBe('OK');
  });

  it('reads the record of a transaction the meter closed at a power cut while the controller was down', async () => {
    const sim = await meterSim();
    const dir = freshDir();
    const first = await controllerOn(sim, dir);
    await first.client.next((m) => m.type === 'reading');
    expect((await first.client.command({ type: 'start_transaction', request: txRequest('tx-power') })).payload.result.status).toBe('OK');
    await stopController(first.controller);
    sim.device.powerCycle();
    expect(sim.device.store.running()).toBeUndefined();

    const { controller, client } = await controllerOn(sim, dir);
    const stopped = await client.next((m) => m.type === 'transaction.stopped' && m.payload.transactionId === 'tx-power');
    expect(stopped.payload).toMatchObject({ final: true, key: 'ocmf/evse1/tx-power', response: { status: 'OK' } });
    expect(requests(sim, 'PUT', /\/legal/)).toHaveLength(0); // closed by the meter: only read
    expect(controller.journal.transaction('evse1', 'tx-power')).toMatchObject({ state: 'closed', publishedAt: expect.any(String) });
  });

  it('publishes again, with the same key, a record stored but not published before the crash', async () => {
    const sim = await meterSim();
    const dir = leftByACrash((j) => {
      j.startRequested('evse1', 'DE*JNL*E1', 'tx-unpub', 'req-1', txRequest('tx-unpub'));
      j.startAnswered('evse1', 'tx-unpub', 'req-1', { status: 'OK' });
      j.stopRequested('evse1', 'DE*JNL*E1', 'tx-unpub', 'req-2', 'command');
      j.stopAnswered('evse1', 'DE*JNL*E1', { requestId: 'req-2', transactionId: 'tx-unpub', final: true, response: { status: 'OK', signed_meter_value: { signed_meter_data: 'OCMF|{}|{}', public_key: 'ab' } } });
    });
    const { controller, client } = await controllerOn(sim, dir);
    const replayed = await client.next((m) => m.type === 'transaction.stopped' && m.payload.transactionId === 'tx-unpub');
    expect(replayed.payload).toMatchObject({ key: 'ocmf/evse1/tx-unpub', replayed: true, ocmf: 'OCMF|{}|{}' });
    expect(await rowState(controller.journal, 'tx-unpub', ['closed'])).toBe('closed');
    expect(controller.journal.transaction('evse1', 'tx-unpub')?.publishedAt).toEqual(expect.any(String));
  });

  it('retries a stop that failed while the meter was unreachable until the record is stored', async () => {
    const sim = await meterSim();
    const { client } = await controllerOn(sim, freshDir(), { meter: { resilience_transaction_request_retries: 1 }, recoveryIntervalMs: 100 });
    await client.next((m) => m.type === 'reading');
    expect((await client.command({ type: 'start_transaction', request: txRequest('tx-flaky') })).payload.result.status).toBe('OK');
    sim.faults.addResponseFault({ endpoint: 'ocmf', method: 'GET', status: 503, times: 2 });
    const failed = await client.command({ type: 'stop_transaction', transactionId: 'tx-flaky' });
    expect(failed.payload.result.status).toBe('UNEXPECTED_ERROR');
    const stored = await client.next((m) => m.type === 'transaction.stopped' && m.payload.transactionId === 'tx-flaky' && m.payload.final === true);
    expect(stored.payload.key).toBe('ocmf/evse1/tx-flaky');
    expect(requests(sim, 'PUT', /\/legal/)).toHaveLength(1);
  });
});
