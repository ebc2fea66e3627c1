/**
 * Test model of the transaction chart (machines/transaction.machine.ts): the production machine itself, stepped
 * purely by `xstate/graph` (`TestModel`), with hand-written generators of what the outside world does: the feed
 * sends commands (also while the chart is busy), the journal answers each write (or fails), the meter chart answers
 * each command (OK, a retryable failure, a final refusal) and connects with or without an open transaction, and
 * the recovery timer expires.
 */
import type { ActorLogic, AnyEventObject, AnyMachineSnapshot } from 'xstate';
import { TestModel, type TestPath } from 'xstate/graph';
import { machines } from '../../machines/index.js';
import type { JournalRow, RecoveryWork, StopFiled, TransactionContext, TransactionMachineInput } from '../../machines/transaction.types.js';
import type { StepView } from './replay.js';

export const transactionInput: TransactionMachineInput = { meter: 'evse1', evseId: 'DE*MDL*E1', recoveryIntervalMs: 30_000, maxRecoveryAttempts: 5 };

export const transactionDelay = (name: string): number | undefined => (name === 'recoveryInterval' ? transactionInput.recoveryIntervalMs : undefined);

const req = (id: string) => ({ evse_id: 'DE*MDL*E1', transaction_id: id, identification_status: 'ASSIGNED' as const, identification_type: 'ISO14443' as const, identification_flags: [] });
const OCMF = 'OCMF|{"RD":[{"RV":1}]}|{"SD":"00"}';
const okStop = { status: 'OK' as const, signed_meter_value: { signed_meter_data: OCMF, signing_method: '', encoding_method: 'OCMF', public_key: 'ab' } };
const failedStop = { status: 'UNEXPECTED_ERROR' as const, error: 'Failed to stop transaction TX-A: no answer' };

function row(state: JournalRow['state'], extra: Partial<JournalRow> = {}): JournalRow {
  return {
    transactionId: 'TX-A', state, startRequestId: 'J0', startResponse: { status: 'OK' }, stopResponse: null, ocmf: null, recordKey: null, publishedAt: null,
    recoveryAttempts: 0, startedAt: '2026-01-15T08:00:00.000Z', createdAt: '2026-01-15T08:00:00.000Z', ...extra,
  };
}
const closedRow = row('closed', { stopResponse: okStop, ocmf: OCMF, recordKey: 'ocmf/evse1/TX-A' });
const journalError = new Error('SQLITE_FULL: database or disk is full');
const transport = { kind: 'transport' as const, status: undefined, retryable: true, message: 'connect ECONNREFUSED' };
const noRecord = { kind: 'http-status' as const, status: 404, retryable: false, message: 'GET /v2/ocmf answered 404' };

interface Outcome { label: string; output?: unknown; error?: unknown }

const filed = (f: Partial<StopFiled>): StopFiled => ({ stored: false, key: undefined, duplicate: false, published: false, state: undefined, ...f });

/** How a pending journal write may end, by actor. */
function outcomes(src: string, s: AnyMachineSnapshot, c: TransactionContext): Outcome[] {
  const fail = { label: 'journal fails', error: journalError };
  const starting = s.matches('starting');
  switch (src) {
    case 'readRow': return starting
      ? [{ label: 'unknown', output: undefined }, { label: 'open', output: row('open') }, { label: 'start failed', output: row('start_failed', { startResponse: { status: 'UNEXPECTED_ERROR' } }) }, { label: 'closed', output: closedRow }, fail]
      : [{ label: 'unknown', output: undefined }, { label: 'closed', output: closedRow }, { label: 'start failed', output: row('start_failed', { startResponse: { status: 'UNEXPECTED_ERROR' } }) }, { label: 'open', output: row('open') }, fail];
    case 'writeStartRequested': return [{ label: 'written', output: { journalId: 'J1' } }, fail];
    case 'writeStopRequested': return [{ label: 'written', output: { journalId: s.matches('recovering') ? 'J3' : 'J2' } }, fail];
    case 'writeStopAnswered': {
      // What the journal makes of the answer it files: a final record is stored, a failure is not.
      const answer = s.matches('filingFound') ? c.found[0] : s.matches('recovering') ? c.row?.answer : c.job?.kind === 'stop' ? c.job.answer : undefined;
      const key = `ocmf/evse1/${answer?.transactionId ?? ''}`;
      return answer?.final ? [
        { label: 'stored', output: filed({ stored: true, key, state: 'closed' }) },
        { label: 'stored before, published', output: filed({ stored: true, key, duplicate: true, published: true, state: 'closed' }) },
        fail,
      ] : [
        { label: 'stop failed', output: filed({ state: 'stop_failed' }) },
        ...(s.matches('recovering') ? [] : [{ label: 'not journaled', output: filed({}) }]),
        fail,
      ];
    }
    case 'loadRecovery': {
      const work = (w: Partial<RecoveryWork>): RecoveryWork => ({ unpublished: [], unfinished: [], openUnknown: false, ...w });
      return [
        { label: 'nothing', output: work({}) },
        { label: 'unpublished record', output: work({ unpublished: [closedRow] }) },
        { label: 'start without answer', output: work({ unfinished: [row('start_requested', { startResponse: null })] }) },
        { label: 'open', output: work({ unfinished: [row('open')] }) },
        { label: 'failed stop, 4 passes', output: work({ unfinished: [row('stop_failed', { recoveryAttempts: 4 })] }) },
        ...(c.deviceOpen ? [{ label: 'open, unknown', output: work({ openUnknown: true }) }] : []),
        fail,
      ];
    }
    case 'writeStartAnswered': case 'writePublished': case 'writeSettle': case 'writeFoundOpen':
      return [{ label: 'written', output: undefined }, fail];
    default: return [];
  }
}

interface NodeLike { id: string; invoke: { id: string; src: unknown }[]; after: { eventType: string }[] }

const start = (requestId: string, id = 'TX-A') => ({ type: 'START', requestId, req: req(id) });
const stop = (requestId: string, id = 'TX-A') => ({ type: 'STOP', requestId, transactionId: id });
const connected = (open: boolean) => ({ type: 'METER_CONNECTED', label: open ? 'TX-A open' : 'nothing open', openTransaction: open ? { open: true, transactionId: 'TX-A', startedAtMs: 1_768_464_000_000, evseId: 'DE*OTHER*E9' } : undefined });

/** The events the outside world may send in a state: the event generator of the test model. */
export const transactionEvents = (s: AnyMachineSnapshot): AnyEventObject[] => {
  const c = s.context as TransactionContext;
  const events: AnyEventObject[] = [];
  for (const node of (s as unknown as { _nodes: NodeLike[] })._nodes) {
    for (const inv of node.invoke) {
      if (typeof inv.src !== 'string' || inv.src === 'meterLink') continue;
      for (const o of outcomes(inv.src, s, c)) {
        events.push('output' in o ? { type: `xstate.done.actor.${inv.id}`, output: o.output, label: o.label } : { type: `xstate.error.actor.${inv.id}`, error: o.error, label: o.label });
      }
    }
    for (const a of node.after) events.push({ type: a.eventType });
  }
  if (s.matches({ idle: 'settled' }) || s.matches({ idle: 'retryPending' })) {
    events.push(start('start-1'), stop('stop-1'), stop('stop-empty', ''), connected(false), connected(true));
  }
  const commanding = s.matches({ starting: 'commanding' }) || s.matches({ stopping: 'commanding' }) || s.matches({ recovering: 'commanding' });
  if (commanding || s.matches({ filingFound: 'filing' })) events.push(start('busy-start'), stop('busy-stop'));
  if (commanding) {
    // A connect report (a link refresh) and a record of a dangling transaction arrive while the meter works.
    events.push(connected(false));
    if (c.found.length === 0) events.push({ type: 'METER_STOPPED', label: 'dangling closed', requestId: undefined, transactionId: 'TX-D', final: true, response: okStop });
  }
  if (s.matches({ starting: 'commanding' })) {
    const requestId = c.job?.journalId;
    events.push(
      { type: 'METER_STARTED', label: 'OK', requestId, transactionId: 'TX-A', response: { status: 'OK' } },
      { type: 'METER_STARTED', label: 'refused', requestId, transactionId: 'TX-A', response: { status: 'UNEXPECTED_ERROR', error: 'refused' }, cause: noRecord },
    );
  }
  const stopRequestId = s.matches({ stopping: 'commanding' }) ? c.job?.journalId ?? c.job?.requestId : s.matches({ recovering: 'commanding' }) ? c.row?.journalId : undefined;
  if (stopRequestId !== undefined) {
    const transactionId = c.job?.kind === 'stop' ? c.job.transactionId : c.row?.row.transactionId ?? '';
    events.push(
      { type: 'METER_STOPPED', label: 'record', requestId: stopRequestId, transactionId, final: true, response: okStop },
      { type: 'METER_STOPPED', label: 'unreachable', requestId: stopRequestId, transactionId, final: false, response: failedStop, cause: transport },
      { type: 'METER_STOPPED', label: 'no record', requestId: stopRequestId, transactionId, final: false, response: failedStop, cause: noRecord },
    );
  }
  return events;
};

/** The part of the context guards read: model and real actor must agree on it after every step. */
export function transactionView(s: AnyMachineSnapshot): unknown {
  const c = s.context as TransactionContext;
  const job = c.job;
  return {
    job: job && [job.kind, job.requestId, job.journalId, job.answer?.response.status, job.kind === 'stop' ? job.filed?.state : undefined],
    recovery: c.recovery, deviceOpen: c.deviceOpen?.transactionId, rows: c.rows.map((r) => `${r.transactionId}:${r.state}`), replays: c.replays.length,
    row: c.row && [c.row.row.state, c.row.journalId, c.row.answer?.cause?.retryable, c.row.filed?.state], found: c.found.length,
  };
}

const key = (s: AnyMachineSnapshot) => JSON.stringify([s.value, transactionView(s)]);
const eventKey = (e: AnyEventObject) => `${e.type}${'label' in e ? `(${String(e.label)})` : ''}${'requestId' in e ? `(${String(e.requestId)})` : ''}`;

export type TransactionPath = TestPath<AnyMachineSnapshot, AnyEventObject>;

/** Every edge of the chart's graph (a vertex is state, event and previous state, as in meter.model.ts). */
export function transactionPaths(): TransactionPath[] {
  const model = new TestModel(machines.transactions as unknown as ActorLogic<AnyMachineSnapshot, AnyEventObject, TransactionMachineInput>, {
    input: transactionInput,
    limit: 200_000,
    serializeEvent: eventKey as never,
    serializeState: (state, event, prev) => `${key(state)}|${event ? eventKey(event) : ''}|${prev ? key(prev) : ''}`,
  });
  return model.getShortestPaths({ events: transactionEvents });
}

function expectThat(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

/**
 * Per-path checks of what the real actor emitted: every command answered exactly once (a busy one at once);
 * nothing answered or published on the meter's answer itself (it is journaled first); a record the journal
 * stored is published with its key unless it reached the feed before; no record for a stop that was not final.
 */
export function transactionChecks(): (step: StepView) => void {
  const answered = new Map<string, number>();
  return ({ event, before, expected, emitted }) => {
    const answers = emitted.filter((e) => e.type === 'answer') as unknown as { requestId: string }[];
    const records = emitted.filter((e) => e.type === 'record') as unknown as { record: { key: string | null; final: boolean } }[];
    for (const a of answers) answered.set(a.requestId, (answered.get(a.requestId) ?? 0) + 1);
    for (const [id, n] of answered) expectThat(n === 1, `the command ${id} was answered ${n} times`);
    const isCommand = event.type === 'START' || event.type === 'STOP';
    const requestId = (event as { requestId?: string }).requestId ?? '';
    if (isCommand && before?.hasTag('busy')) expectThat(answered.get(requestId) === 1 && answers.length === 1, `a command while busy is answered at once (${requestId})`);
    if (event.type.startsWith('METER_')) expectThat(answers.length === 0 && records.length === 0, `${event.type} answered or published before the journal had it`);
    const jobBefore = (before?.context as TransactionContext | undefined)?.job;
    if (jobBefore && !(expected.context as TransactionContext).job) expectThat(answered.get(jobBefore.requestId) === 1, `the command ${jobBefore.requestId} ended without an answer`);
    const output = (event as { output?: unknown }).output as Partial<StopFiled> | undefined;
    if (event.type.startsWith('xstate.done.actor') && output && typeof output === 'object' && 'stored' in output && !expected.matches('recovering')) {
      const want = output.stored === true && !(output.duplicate === true && output.published === true);
      if (want) expectThat(records.some((r) => r.record.key === output.key), 'a stored record is published with its key');
      if (output.duplicate === true && output.published === true) expectThat(records.length === 0, 'a record that reached the feed is not published again');
    }
    for (const r of records) if (!r.record.final) expectThat(r.record.key === null, 'a failed stop carries no record key');
  };
}
