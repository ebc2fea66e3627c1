/**
 * Seeded fault-injection scenarios against the real controller process (`dist/src/cli.js run`, killed with
 * SIGKILL at chosen points) and the LEM DCBM simulator on loopback. A scenario is a seeded list of operations
 * (transactions with faults on the way); afterwards every transaction the meter closed must have its signed
 * record in the journal and on the feed exactly once, no transaction id may have started twice on the meter, the
 * charts must end idle with nothing unfinished, and the process must never have died on its own.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, UNFINISHED } from '../../src/adapters/journal/journal.js';
import { prng } from '../../src/domain/prng.js';
import { startMeterSimulator, type MeterSimulator } from '../../src/simulators/lem-dcbm/index.js';
import { spawnCli } from '../helpers/cli.js';
import { FeedClient, type FeedEnvelope } from '../helpers/feed-client.js';
import { verifyOcmf } from '../helpers/ocmf-verify.js';

export const FAULTS = ['kill-during-start', 'kill-between-stop-and-ocmf', 'kill-during-stop', 'kill-while-running', 'meter-reboot', 'connections-dropped', 'slow-device', 'time-sync-expired'] as const;
export type Fault = (typeof FAULTS)[number];

export interface ScenarioResult {
  seed: number;
  faults: Fault[];
  expected: number;
  recovered: number;
  lost: string[];
  duplicated: string[];
  /** Same-key re-deliveries flagged `replayed` (a consumer drops them by key). */
  replayed: number;
  startedTwice: string[];
  crashes: string[];
  inconsistent: string[];
}


const TOKEN = 'fault-suite-token-0123456789';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(stepMs)) if (check()) return true;
  return check();
}

const txRequest = (id: string) => ({ evse_id: 'DE*FLT*E1', transaction_id: id, identification_status: 'ASSIGNED', identification_type: 'ISO14443', identification_flags: [] });

class Run {
  readonly dir = mkdtempSync(join(tmpdir(), 'cc-fault-'));
  readonly configFile = join(this.dir, 'controller.json');
  readonly deliveries = new Map<string, { replayed: boolean; snapshot: boolean }[]>();
  readonly crashes: string[] = [];
  readonly started: string[] = [];
  /** Everything each process incarnation logged. */
  readonly logs: string[] = [];
  client: FeedClient | undefined;
  process: ReturnType<typeof spawnCli> | undefined;
  #killed = false;
  #requests = 0;

  constructor(readonly sim: MeterSimulator) {
    writeFileSync(this.configFile, JSON.stringify({
      meters: [{
        name: 'evse1', evse_id: 'DE*FLT*E1', ip_address: '127.0.0.1', port: sim.port, reading_interval_ms: 250, warmup_ms: 0,
        command_timeout_ms: 1000, resilience_initial_connection_retry_delay: 100, resilience_transaction_request_retries: 3,
        resilience_transaction_request_retry_delay: 100,
      }],
      feed: { port: 0 }, state_dir: this.dir, log: { level: 'info' },
    }));
  }

  async start(): Promise<void> {
    const cli = spawnCli(['run', '--config', this.configFile], { CHARGER_FEED_TOKEN: TOKEN });
    this.process = cli;
    void cli.exited.then(() => this.logs.push(`${cli.output().stdout}${cli.output().stderr}`));
    this.#killed = false;
    void cli.exited.then((code) => {
      if (!this.#killed && cli === this.process) this.crashes.push(`exit ${code}: ${cli.output().stderr.slice(-400)}`);
    });
    const [listening] = await cli.waitForLog('feed listening');
    const client = new FeedClient(String(listening?.feed), { token: TOKEN });
    client.socket.on('message', (data) => this.#collect(JSON.parse(data.toString()) as FeedEnvelope));
    await client.opened;
    this.client = client;
  }

  #collect(message: FeedEnvelope): void {
    const add = (payload: Record<string, unknown>, snapshot: boolean) => {
      if (typeof payload.key !== 'string') return;
      const list = this.deliveries.get(payload.key) ?? [];
      list.push({ replayed: payload.replayed === true, snapshot });
      this.deliveries.set(payload.key, list);
    };
    if (message.type === 'transaction.stopped') add(message.payload, false);
    if (message.type === 'snapshot') for (const record of message.payload.records as Record<string, unknown>[]) add(record, true);
  }

  async kill(): Promise<void> {
    const proc = this.process;
    if (!proc) return;
    this.#killed = true;
    proc.child.kill('SIGKILL');
    await proc.exited;
    this.client?.socket.terminate();
    this.process = undefined;
  }

  /** A command through the feed; undefined when the process went away first. */
  async command(command: Record<string, unknown>, timeoutMs = 8000): Promise<Record<string, unknown> | undefined> {
    const client = this.client;
    if (!client) return undefined;
    const requestId = `f${(this.#requests += 1)}`;
    client.send({ ...command, requestId });
    try {
      const answer = await client.next((m) => (m.type === 'command.result' || m.type === 'error') && m.payload.requestId === requestId, timeoutMs);
      return answer.payload.result as Record<string, unknown> | undefined;
    } catch {
      return undefined;
    }
  }

  async startTx(id: string): Promise<Record<string, unknown> | undefined> {
    this.started.push(id);
    return this.command({ type: 'start_transaction', request: txRequest(id) });
  }

  putSeen(id: string): boolean {
    return this.sim.requests.entries().some((r) => r.method === 'PUT' && r.path.endsWith('/legal') && r.query.transactionId === id);
  }

  async stopProcess(): Promise<number | null> {
    const proc = this.process;
    if (!proc) return 0;
    this.#killed = true;
    proc.child.kill('SIGTERM');
    const code = await Promise.race([proc.exited, sleep(15_000).then(() => 'timeout' as const)]);
    await this.client?.closeAndWait();
    if (code === 'timeout') {
      proc.child.kill('SIGKILL');
      return -1;
    }
    return code;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One transaction with the fault applied on its way. */
async function operate(run: Run, fault: Fault | 'none', id: string, random: () => number): Promise<void> {
  const { sim } = run;
  switch (fault) {
    case 'kill-during-start': {
      sim.faults.addResponseFault({ endpoint: 'legal', method: 'POST', delayMs: Math.floor(random() * 300), times: 1 });
      void run.startTx(id);
      await sleep(Math.floor(random() * 400));
      await run.kill();
      sim.faults.clear();
      await run.start();
      return;
    }
    case 'kill-between-stop-and-ocmf': {
      await run.startTx(id);
      sim.faults.addResponseFault({ endpoint: 'ocmf', method: 'GET', delayMs: 2000, times: 1 });
      void run.command({ type: 'stop_transaction', transactionId: id });
      await until(() => run.putSeen(id), 3000);
      await sleep(Math.floor(random() * 50));
      await run.kill();
      sim.faults.clear();
      await run.start();
      return;
    }
    case 'kill-during-stop': {
      await run.startTx(id);
      void run.command({ type: 'stop_transaction', transactionId: id });
      await sleep(Math.floor(random() * 60));
      await run.kill();
      await run.start();
      break;
    }
    case 'kill-while-running': {
      await run.startTx(id);
      await sleep(Math.floor(random() * 300));
      await run.kill();
      await run.start();
      break;
    }
    case 'meter-reboot': {
      await run.startTx(id);
      sim.reboot(Math.floor(random() * 600));
      break;
    }
    case 'connections-dropped': {
      // Anywhere, or where it hurts most: the answer to a start or stop is lost after the meter acted on it.
      const where = ([
        { endpoint: '*' }, { endpoint: 'legal', method: 'POST' }, { endpoint: 'legal', method: 'PUT' }, { endpoint: 'ocmf', method: 'GET' },
      ] as const)[Math.floor(random() * 4)]!;
      sim.faults.addResponseFault({ ...where, drop: random() < 0.3 ? 'immediately' : 'midResponse', times: 1 + Math.floor(random() * 2) });
      await run.startTx(id);
      break;
    }
    case 'slow-device': {
      sim.faults.addResponseFault({ endpoint: random() < 0.5 ? 'legal' : 'ocmf', delayMs: 200 + Math.floor(random() * 1300), times: 1 + Math.floor(random() * 2) });
      await run.startTx(id);
      break;
    }
    case 'time-sync-expired': {
      sim.device.expireTimeSync();
      await run.startTx(id);
      break;
    }
    case 'none':
      await run.startTx(id);
      break;
  }
  await sleep(Math.floor(random() * 200));
  await run.command({ type: 'stop_transaction', transactionId: id });
}

export async function runScenario(seed: number): Promise<ScenarioResult> {
  const random = prng(seed);
  const sim = await startMeterSimulator({ port: 0, meterId: `9${seed}`, requestLogLimit: 100_000 });
  const run = new Run(sim);
  const faults: Fault[] = [];
  const inconsistent: string[] = [];
  try {
    await run.start();
    await run.client!.next((m) => m.type === 'reading');
    const operations = 2 + Math.floor(random() * 3);
    for (let i = 0; i < operations; i += 1) {
      const fault = random() < 0.8 ? FAULTS[Math.floor(random() * FAULTS.length)]! : 'none';
      if (fault !== 'none') faults.push(fault);
      const t0 = Date.now();
      await operate(run, fault, `s${seed}-t${i}`, random);
      if (process.env.FAULT_DEBUG) process.stdout.write(`seed ${seed} op ${i} ${fault}: ${Date.now() - t0} ms\n`);
    }

    // The upstream's part: faults end, and every transaction the meter has is stopped until its record is in.
    sim.faults.clear();
    if (!run.process) await run.start();
    for (const id of run.started) {
      for (let attempt = 0; attempt < 40; attempt += 1) {
        if (!sim.device.store.byTransactionId(id)) break; // never reached the meter
        if (run.deliveries.has(`ocmf/evse1/${id}`)) break;
        const answer = await run.command({ type: 'stop_transaction', transactionId: id });
        if (answer?.status === 'OK' && answer.signed_meter_value) break;
        await sleep(250);
      }
    }
    if (process.env.FAULT_DEBUG) process.stdout.write(`seed ${seed} upstream stops done\n`);
    const journalFile = join(run.dir, 'journal.sqlite');
    const settled = await until(() => {
      const journal = Journal.open(journalFile, { readOnly: true });
      try {
        return journal.transactions({ states: UNFINISHED }).length === 0;
      } finally {
        journal.close();
      }
    }, 10_000, 100);
    const dbg = (what: string) => { if (process.env.FAULT_DEBUG) process.stdout.write(`seed ${seed} ${what} ${new Date().toISOString()}\n`); };
    dbg('settled');
    if (!settled) inconsistent.push('the journal still has unfinished transactions');
    // The chart may still be connecting after the last restart: wait (bounded) for it to settle.
    let snapshot: Record<string, unknown> | undefined;
    let meterState: string[] = [];
    for (let i = 0; i < 50 && !meterState.includes('operational.transaction.idle'); i += 1) {
      if (i > 0) await sleep(100);
      snapshot = await run.command({ type: 'get_snapshot' });
      meterState = (snapshot?.machines as { machine: string; state: string[] }[] | undefined)?.find((m) => m.machine === 'meter:evse1')?.state ?? [];
    }
    if (!meterState.includes('operational.transaction.idle')) {
      const context = (snapshot?.machines as { machine: string; context: Record<string, unknown> }[] | undefined)?.find((m) => m.machine === 'meter:evse1')?.context;
      inconsistent.push(`meter chart not idle: ${meterState.filter((s) => s.includes('transaction')).join(', ')} (currentTxId ${String(context?.currentTxId)}, needToStop ${String(context?.needToStop)})`);
    }
    if ((snapshot?.openTransactions as unknown[] | undefined)?.length) inconsistent.push('the feed still lists open transactions');
    if (sim.device.store.running()) inconsistent.push(`the meter still runs ${sim.device.store.running()?.transactionId}`);
    dbg('snapshot');
    if (process.env.FAULT_DEBUG) {
      for (const r of sim.requests.entries()) if (!r.path.includes('livemeasure')) process.stdout.write(`  req ${r.seq} ${r.method} ${r.url} ${r.body.slice(0, 60)}\n`);
      const j = Journal.open(join(run.dir, 'journal.sqlite'), { readOnly: true });
      for (const st of j.steps()) process.stdout.write(`  step ${st.at} ${st.transactionId} ${st.step} ${JSON.stringify(st.detail).slice(0, 120)}\n`);
      j.close();
    }
    const code = await run.stopProcess();
    await sleep(50); // the exit handler above has collected the last log
    if (run.logs.some((text) => text.includes(TOKEN) || text.includes('PRIVATE KEY'))) inconsistent.push('a log holds the feed token or a private key');
    if (run.logs.length === 0 || !run.logs.some((text) => text.includes('"msg":"meter connected"'))) inconsistent.push('no process log was collected');
    dbg('stopped');
    if (code !== 0) inconsistent.push(`graceful stop exited ${code}`);

    // What the meter closed, against the journal and the feed.
    const closedOnMeter = new Map<string, number>();
    for (let n = 0; n < sim.device.store.size; n += 1) {
      const record = sim.device.store.byAge(n);
      if (record && !record.running) closedOnMeter.set(record.transactionId, (closedOnMeter.get(record.transactionId) ?? 0) + 1);
    }
    const startedTwice = [...closedOnMeter].filter(([, count]) => count > 1).map(([id]) => id);
    const journal = Journal.open(journalFile, { readOnly: true });
    const lost: string[] = [];
    const duplicated: string[] = [];
    let recovered = 0;
    let replayed = 0;
    try {
      for (const id of closedOnMeter.keys()) {
        const key = `ocmf/evse1/${id}`;
        const row = journal.transaction('evse1', id);
        const live = (run.deliveries.get(key) ?? []).filter((d) => !d.snapshot);
        const seen = run.deliveries.get(key)?.length ?? 0;
        if (row?.state !== 'closed' || !row.ocmf || !verifyOcmf(row.ocmf, sim.device.keys.publicKeyOcmf) || seen === 0) {
          lost.push(process.env.FAULT_DEBUG ? `${id} (journal ${row?.state ?? 'none'}, record ${row?.ocmf ? (verifyOcmf(row.ocmf, sim.device.keys.publicKeyOcmf) ? 'verified' : 'NOT verified') : 'none'}, on the feed ${seen}×)` : id);
        }
        else recovered += 1;
        if (live.filter((d) => !d.replayed).length > 1) duplicated.push(id);
        replayed += live.filter((d) => d.replayed).length;
      }
    } finally {
      journal.close();
    }
    return { seed, faults, expected: closedOnMeter.size, recovered, lost, duplicated, replayed, startedTwice, crashes: run.crashes, inconsistent };
  } finally {
    if (run.process) await run.kill();
    await sim.close();
    run.cleanup();
  }
}

/** The table the suite prints. */
export function summarize(results: ScenarioResult[]): string {
  const sum = (f: (r: ScenarioResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const rows: [string, string | number][] = [
    ['scenarios run', results.length],
    ['faults injected', sum((r) => r.faults.length)],
    ...FAULTS.map((f): [string, number] => [`  ${f}`, sum((r) => r.faults.filter((x) => x === f).length)]),
    ['OCMF records expected', sum((r) => r.expected)],
    ['recovered (journal + feed)', sum((r) => r.recovered)],
    ['lost', sum((r) => r.lost.length)],
    ['duplicated', sum((r) => r.duplicated.length)],
    ['replayed with the same key', sum((r) => r.replayed)],
    ['started twice', sum((r) => r.startedTwice.length)],
    ['process crashes', sum((r) => r.crashes.length)],
    ['inconsistent ends', sum((r) => r.inconsistent.length)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${String(v).padStart(7)}`).join('\n')}\n`;
}
