/**
 * A meter's transactions through the journal, drawn: one actor per meter, between the feed's commands, the journal
 * (every write an invoked actor) and the meter chart (commands out and answers in, as events through `meterLink`).
 *
 * - start: the id is checked against the journal (nothing starts twice), the request is journaled, then sent to the
 *   meter; its answer is journaled, and only then answered and published.
 * - stop: a stored record answers a repeated stop without the meter; otherwise journaled, sent, the answer filed
 *   (a final record is stored), then answered and published with its key, then marked published.
 * - recovery: after every (re)connect of the meter a pass settles what the journal left unfinished (the recovery
 *   table in the README); a pass that leaves failed stops or rows without a verdict runs again after
 *   `recoveryInterval`. Verdicts read the answer's `cause` (`retryable`), never its text.
 *
 * "Busy" (a command or a pass runs) is a tag: a further command is answered busy, and shutdown waits for the tag
 * to go. Pure: the journal and the meter are injected with `.provide()` (src/adapters/journal/ledger.ts).
 */
import { assign, emit, enqueueActions, fromCallback, fromPromise, sendTo, setup } from 'xstate';
import type { TransactionReq, TransactionStartResponse, TransactionStopResponse } from '../src/domain/powermeter.js';
import type { DeviceTransaction } from './meter/meter.types.js';
import type {
  JournalRow, Job, MeterCommandEvent, RecordPublication, RecoveryWork, StartAnswer, StopAnswer, StopFiled, TransactionContext,
  TransactionEmitted, TransactionEvent, TransactionMachineInput,
} from './transaction.types.js';

function missing<TOutput, TInput>(name: string) {
  return fromPromise<TOutput, TInput>(async () => {
    throw new Error(`actor "${name}" was not provided; inject it with machine.provide()`);
  });
}

const BUSY = 'another transaction command is in progress';
const recordKeyOf = (meter: string, transactionId: string): string => `ocmf/${meter}/${transactionId}`;
/** A start that never got its answer stays unconfirmed through any number of restarts and recovery attempts. */
const startUnconfirmed = (row: JournalRow): boolean => row.startRequestId !== null && row.startResponse === null;
const isFinalRecord = (answer: StopAnswer): boolean => answer.final && answer.response.status === 'OK' && answer.response.signed_meter_value !== undefined;
const startJob = (context: TransactionContext) => (context.job?.kind === 'start' ? context.job : undefined);
const stopJob = (context: TransactionContext) => (context.job?.kind === 'stop' ? context.job : undefined);

/** The feed's record of a filed stop answer; `key` is the record's, even when the journal could not store it. */
function publication(meter: string, answer: StopAnswer, filed: StopFiled | undefined): RecordPublication {
  return {
    transactionId: answer.transactionId, final: answer.final, response: answer.response,
    ocmf: answer.response.signed_meter_value?.signed_meter_data ?? null,
    key: filed?.key ?? (isFinalRecord(answer) ? recordKeyOf(meter, answer.transactionId) : null),
  };
}
/** Published unless the same record already reached the feed. */
const needsPublication = (filed: StopFiled | undefined): boolean => !(filed?.duplicate === true && filed.published);

export const transactionSetup = setup({
  types: {
    context: {} as TransactionContext,
    events: {} as TransactionEvent,
    input: {} as TransactionMachineInput,
    emitted: {} as TransactionEmitted,
  },
  actors: {
    /** Sends the meter chart its commands and brings back its answers and connects (METER_* events). */
    meterLink: fromCallback<MeterCommandEvent, void>(() => {
      throw new Error('actor "meterLink" was not provided; inject it with machine.provide()');
    }),
    readRow: missing<JournalRow | undefined, { transactionId: string }>('readRow'),
    writeStartRequested: missing<{ journalId: string }, { req: TransactionReq }>('writeStartRequested'),
    writeStartAnswered: missing<void, StartAnswer>('writeStartAnswered'),
    writeStopRequested: missing<{ journalId: string }, { transactionId: string; why: 'command' | 'recovery' }>('writeStopRequested'),
    writeStopAnswered: missing<StopFiled, StopAnswer>('writeStopAnswered'),
    writePublished: missing<void, { transactionId: string }>('writePublished'),
    writeSettle: missing<void, { transactionId: string; state: 'open' | 'start_failed' | 'lost'; why: string; startResponse?: TransactionStartResponse | undefined }>('writeSettle'),
    writeFoundOpen: missing<void, DeviceTransaction>('writeFoundOpen'),
    loadRecovery: missing<RecoveryWork, { openTransactionId: string | undefined }>('loadRecovery'),
  },
  guards: {
    recoveryDue: ({ context }) => context.recovery === 'due',
    recoveryLater: ({ context }) => context.recovery === 'later',
    hasFound: ({ context }) => context.found.length > 0,
    /** The answer to the command this chart sent (the journal's request id, or the caller's when not journaled). */
    answersJob: ({ context }, params: { requestId: string | undefined }) => params.requestId !== undefined && params.requestId === (context.job?.journalId ?? context.job?.requestId),
    answersRow: ({ context }, params: { requestId: string | undefined }) => params.requestId !== undefined && params.requestId === context.row?.journalId,
    unsolicited: (_, params: { requestId: string | undefined }) => params.requestId === undefined,
    // start: nothing starts twice
    startRepeatOfOpen: ({ context }, params: { row: JournalRow | undefined }) =>
      params.row?.state === 'open' && params.row.startResponse !== null && context.deviceOpen?.transactionId === params.row.transactionId,
    startIdUsed: (_, params: { row: JournalRow | undefined }) => params.row !== undefined && params.row.state !== 'start_failed',
    // stop: a repeated stop answers from the record
    stopAnsweredBefore: (_, params: { row: JournalRow | undefined }) => params.row?.state === 'closed' && params.row.stopResponse !== null,
    stopNeverStarted: ({ context }, params: { row: JournalRow | undefined }) => params.row?.state === 'start_failed' && context.deviceOpen?.transactionId !== params.row.transactionId,
    /** A stop for an id the journal does not know and the meter does not run has nothing to lose: not journaled. */
    stopWorthJournaling: ({ context }, params: { row: JournalRow | undefined; transactionId: string }) =>
      params.row !== undefined || (params.transactionId !== '' && context.deviceOpen?.transactionId === params.transactionId),
    filedStopFailed: ({ context }) => stopJob(context)?.filed?.state === 'stop_failed',
    needsPublication: (_, params: StopFiled) => needsPublication(params),
    /** Stored now, and not published before. */
    storedNew: (_, params: StopFiled) => params.stored && needsPublication(params),
    // recovery
    openUnknown: (_, params: RecoveryWork) => params.openUnknown,
    hasReplay: ({ context }) => context.replays.length > 0,
    noRows: ({ context }) => context.rows.length === 0,
    nextRowAdoptable: ({ context }) => {
      const row = context.rows[0];
      return row !== undefined && context.deviceOpen?.transactionId === row.transactionId && (row.state === 'open' || startUnconfirmed(row));
    },
    rowOpen: ({ context }) => context.row?.row.state === 'open',
    rowClosed: ({ context }) => context.row?.filed?.state === 'closed',
    rowNeedsPublication: ({ context }) => context.row?.filed?.stored === true && needsPublication(context.row.filed),
    /** No verdict yet: the meter was unreachable, busy or not ready (the cause says it is worth another try). */
    rowDeferrable: ({ context }) => context.row?.answer?.cause?.retryable === true,
    rowStartUnconfirmed: ({ context }) => context.row !== undefined && startUnconfirmed(context.row.row),
    rowAttemptsExhausted: ({ context }) => context.row !== undefined && context.row.row.recoveryAttempts + 1 >= context.config.maxRecoveryAttempts,
  },
  actions: {
    noteConnected: assign((_, params: { openTransaction: DeviceTransaction | undefined }) => ({ deviceOpen: params.openTransaction, recovery: 'due' as const })),
    /** The meter's answers say what it runs. */
    noteStarted: assign(({ context }, answer: StartAnswer) => ({
      deviceOpen: answer.response.status === 'OK' ? { open: true, transactionId: answer.transactionId } : context.deviceOpen,
    })),
    noteStopped: assign(({ context }, answer: StopAnswer) => ({
      deviceOpen: isFinalRecord(answer) && context.deviceOpen?.transactionId === answer.transactionId ? undefined : context.deviceOpen,
    })),
    queueFound: assign(({ context }, answer: StopAnswer) => ({ found: [...context.found, answer] })),
    dropFound: assign(({ context }) => ({ found: context.found.slice(1) })),
    markRecoveryLater: assign(({ context }) => ({ recovery: context.recovery === 'due' ? 'due' as const : 'later' as const })),
    beginPass: assign({ recovery: 'none' }),
    acceptStart: assign((_, params: { requestId: string; req: TransactionReq }) => ({ job: { kind: 'start' as const, requestId: params.requestId, req: params.req } })),
    acceptStop: assign((_, params: { requestId: string; transactionId: string }) => ({ job: { kind: 'stop' as const, requestId: params.requestId, transactionId: params.transactionId } })),
    assignJournalId: assign(({ context }, params: { journalId: string }) => ({ job: context.job ? { ...context.job, journalId: params.journalId } : undefined })),
    assignStartAnswer: assign(({ context }, answer: StartAnswer) => {
      const job = startJob(context);
      return { job: job ? { ...job, answer } : context.job };
    }),
    assignStopAnswer: assign(({ context }, answer: StopAnswer) => {
      const job = stopJob(context);
      return { job: job ? { ...job, answer } : context.job };
    }),
    assignFiled: assign(({ context }, filed: StopFiled) => {
      const job = stopJob(context);
      return { job: job ? { ...job, filed } : context.job };
    }),
    endJob: assign({ job: undefined }),
    sendStart: sendTo('meter', ({ context }): MeterCommandEvent => {
      const job = startJob(context);
      return { type: 'METER.START', requestId: job?.journalId ?? '', req: job!.req };
    }),
    sendStop: sendTo('meter', ({ context }): MeterCommandEvent => {
      const job = stopJob(context);
      return { type: 'METER.STOP', requestId: job?.journalId ?? job?.requestId ?? '', transactionId: job?.transactionId ?? '', recover: false };
    }),
    // answers: each once, after the journal has what it answers
    answer: emit((_, params: { requestId: string; response: TransactionStartResponse | TransactionStopResponse }) => ({ type: 'answer' as const, ...params })),
    answerBusy: emit(({ event }) => ({
      type: 'answer' as const, requestId: event.type === 'START' || event.type === 'STOP' ? event.requestId : '',
      response: {
        status: 'UNEXPECTED_ERROR' as const,
        error: event.type === 'START' ? `Failed to start transaction ${event.req.transaction_id}: ${BUSY}` : `Failed to stop transaction ${event.type === 'STOP' ? event.transactionId : ''}: ${BUSY}`,
      },
    })),
    answerStartFromJournal: emit(({ context }, params: { row: JournalRow | undefined }) => ({
      type: 'answer' as const, requestId: context.job?.requestId ?? '',
      response: params.row?.startResponse ?? { status: 'UNEXPECTED_ERROR' as const, error: 'no answer in the journal' },
    })),
    refuseUsedId: emit(({ context }, params: { row: JournalRow | undefined }) => {
      const id = startJob(context)?.req.transaction_id ?? '';
      return { type: 'answer' as const, requestId: context.job?.requestId ?? '', response: { status: 'UNEXPECTED_ERROR' as const, error: `Failed to start transaction ${id}: this transaction id was used before (journal: ${params.row?.state ?? '?'}); nothing was sent to the meter` } };
    }),
    answerStopFromJournal: emit(({ context }, params: { row: JournalRow | undefined }) => ({
      type: 'answer' as const, requestId: context.job?.requestId ?? '',
      response: params.row?.stopResponse ?? { status: 'UNEXPECTED_ERROR' as const, error: 'no answer in the journal' },
    })),
    refuseNeverStarted: emit(({ context }) => ({
      type: 'answer' as const, requestId: context.job?.requestId ?? '',
      response: { status: 'UNEXPECTED_ERROR' as const, error: `Failed to stop transaction ${stopJob(context)?.transactionId ?? ''}: it never started (journal: start_failed)` },
    })),
    answerJournalFailed: emit(({ context }, params: { error: unknown }) => ({
      type: 'answer' as const, requestId: context.job?.requestId ?? '',
      response: { status: 'UNEXPECTED_ERROR' as const, error: `the journal could not be written (${params.error instanceof Error ? params.error.message : String(params.error)}); nothing was sent to the meter` },
    })),
    answerStarted: enqueueActions(({ context, enqueue }) => {
      const job = startJob(context);
      if (!job?.answer) return;
      enqueue.emit({ type: 'answer', requestId: job.requestId, response: job.answer.response });
      enqueue.emit({ type: 'started', transactionId: job.answer.transactionId, response: job.answer.response });
      if (job.answer.response.status === 'OK') enqueue.emit({ type: 'opened', transactionId: job.answer.transactionId, startedAt: undefined });
    }),
    answerStopped: enqueueActions(({ context, enqueue }) => {
      const job = stopJob(context);
      if (job?.answer) enqueue.emit({ type: 'answer', requestId: job.requestId, response: job.answer.response });
    }),
    publishJob: enqueueActions(({ context, enqueue }) => {
      const job = stopJob(context);
      if (!job?.answer) return;
      enqueue.emit({ type: 'record', record: publication(context.meter, job.answer, job.filed) });
      if (isFinalRecord(job.answer)) enqueue.emit({ type: 'closed', transactionId: job.answer.transactionId });
    }),
    publishFound: enqueueActions(({ context, enqueue }, filed: StopFiled) => {
      const answer = context.found[0];
      if (!answer) return;
      enqueue.emit({ type: 'record', record: publication(context.meter, answer, filed) });
      enqueue.emit({ type: 'closed', transactionId: answer.transactionId });
    }),
    // recovery
    assignWork: assign((_, work: RecoveryWork) => ({ replays: work.unpublished, rows: work.unfinished })),
    announceDeviceOpen: enqueueActions(({ context, enqueue }) => {
      const open = context.deviceOpen;
      if (!open) return;
      enqueue.emit({ type: 'opened', transactionId: open.transactionId, startedAt: open.startedAtMs !== undefined ? new Date(open.startedAtMs).toISOString() : undefined });
    }),
    publishReplay: enqueueActions(({ context, enqueue }) => {
      const row = context.replays[0];
      if (!row?.stopResponse) return;
      enqueue.emit({ type: 'log', level: 'warn', message: 'journal: publishing a stored record the last run did not publish', detail: { transactionId: row.transactionId, key: row.recordKey } });
      enqueue.emit({ type: 'record', record: { transactionId: row.transactionId, final: true, response: row.stopResponse, ocmf: row.ocmf, key: row.recordKey, replayed: true } });
    }),
    dropReplay: assign(({ context }) => ({ replays: context.replays.slice(1) })),
    takeRow: assign(({ context }) => ({ row: context.rows[0] ? { row: context.rows[0] } : undefined, rows: context.rows.slice(1) })),
    logRecovering: emit(({ context }) => ({
      type: 'log' as const, level: 'warn' as const, message: 'journal: recovering a transaction left unfinished',
      detail: { transactionId: context.row?.row.transactionId, state: context.row?.row.state, openOnMeter: context.deviceOpen?.transactionId === context.row?.row.transactionId },
    })),
    emitAdopted: enqueueActions(({ context, enqueue }) => {
      const row = context.row?.row;
      if (!row) return;
      enqueue.emit({ type: 'opened', transactionId: row.transactionId, startedAt: row.startedAt ?? undefined });
      enqueue.emit({ type: 'log', level: 'warn', message: 'journal: a transaction whose start had no answer is open on the meter; it runs on', detail: { transactionId: row.transactionId } });
    }),
    assignRowJournalId: assign(({ context }, params: { journalId: string }) => ({ row: context.row ? { ...context.row, journalId: params.journalId } : undefined })),
    sendRecoveryStop: sendTo('meter', ({ context }): MeterCommandEvent => ({ type: 'METER.STOP', requestId: context.row?.journalId ?? '', transactionId: context.row?.row.transactionId ?? '', recover: true })),
    assignRowAnswer: assign(({ context }, answer: StopAnswer) => ({ row: context.row ? { ...context.row, answer } : undefined })),
    assignRowFiled: assign(({ context }, filed: StopFiled) => ({ row: context.row ? { ...context.row, filed } : undefined })),
    publishRow: enqueueActions(({ context, enqueue }) => {
      const r = context.row;
      if (!r?.answer) return;
      enqueue.emit({ type: 'record', record: publication(context.meter, r.answer, r.filed) });
      enqueue.emit({ type: 'closed', transactionId: r.answer.transactionId });
    }),
    logDeferred: emit(({ context }) => ({
      type: 'log' as const, level: 'warn' as const, message: 'journal: no verdict yet (the meter is unreachable or busy); recovery tries again later',
      detail: { transactionId: context.row?.row.transactionId, error: context.row?.answer?.response.error },
    })),
    logNeverStarted: emit(({ context }) => ({ type: 'log' as const, level: 'warn' as const, message: 'journal: a start without answer never reached the meter', detail: { transactionId: context.row?.row.transactionId } })),
    logLost: emit(({ context }) => ({ type: 'log' as const, level: 'error' as const, message: 'journal: the meter has no signed record of this transaction', detail: { transactionId: context.row?.row.transactionId, error: context.row?.answer?.response.error } })),
    logJournalError: emit((_, params: { error: unknown; what: string }) => ({
      type: 'log' as const, level: 'error' as const, message: `journal: could not write the ${params.what}`, detail: { err: params.error instanceof Error ? params.error.message : String(params.error) },
    })),
    endRow: assign({ row: undefined }),
  },
  delays: {
    recoveryInterval: ({ context }) => context.config.recoveryIntervalMs,
  },
});

const busy = { actions: 'answerBusy' } as const;
const connected = { actions: { type: 'noteConnected', params: ({ event }: { event: { openTransaction: DeviceTransaction | undefined } }) => ({ openTransaction: event.openTransaction }) } } as const;
const rowOf = ({ event }: { event: { output: JournalRow | undefined } }) => ({ row: event.output });
const failure = (what: string) => ({ event }: { event: { error: unknown } }) => ({ error: event.error, what });
const stopAnswer = ({ event }: { event: StopAnswer }): StopAnswer => ({
  requestId: event.requestId, transactionId: event.transactionId, response: event.response, final: event.final, cause: event.cause,
});
const startAnswer = ({ event }: { event: StartAnswer }): StartAnswer => ({ requestId: event.requestId, transactionId: event.transactionId, response: event.response, cause: event.cause });
const jobStopAnswer = ({ context }: { context: TransactionContext }): StopAnswer => stopJob(context)?.answer ?? { requestId: undefined, transactionId: '', response: { status: 'UNEXPECTED_ERROR' }, final: false };

export const transactionMachine = transactionSetup.createMachine({
  id: 'transactions',
  context: ({ input }) => ({
    meter: input.meter, evseId: input.evseId, config: input, deviceOpen: undefined, recovery: 'none', job: undefined,
    replays: [], rows: [], row: undefined, found: [],
  }),
  invoke: { id: 'meter', src: 'meterLink' },
  on: {
    METER_CONNECTED: connected,
    // A final record the meter gave without our command (it closed a dangling transaction before a start): filed when free.
    METER_STOPPED: { guard: { type: 'unsolicited', params: ({ event }) => ({ requestId: event.requestId }) }, actions: [{ type: 'queueFound', params: stopAnswer }, { type: 'noteStopped', params: stopAnswer }] },
  },
  initial: 'idle',
  states: {
    idle: {
      initial: 'choosing',
      on: {
        START: { target: 'starting', actions: { type: 'acceptStart', params: ({ event }) => ({ requestId: event.requestId, req: event.req }) } },
        STOP: { target: 'stopping', actions: { type: 'acceptStop', params: ({ event }) => ({ requestId: event.requestId, transactionId: event.transactionId }) } },
      },
      states: {
        choosing: {
          always: [
            { guard: 'hasFound', target: '#transactions.filingFound' },
            { guard: 'recoveryDue', target: '#transactions.recovering' },
            { guard: 'recoveryLater', target: 'retryPending' },
            { target: 'settled' },
          ],
        },
        settled: {
          on: { METER_CONNECTED: { target: '#transactions.recovering', ...connected } },
        },
        retryPending: {
          // Failed stops, and rows a pass had to leave, are tried again until settled.
          after: { recoveryInterval: '#transactions.recovering' },
          on: { METER_CONNECTED: { target: '#transactions.recovering', ...connected } },
        },
      },
    },
    starting: {
      tags: 'busy',
      initial: 'checking',
      on: { START: busy, STOP: busy },
      states: {
        checking: {
          invoke: {
            src: 'readRow',
            input: ({ context }) => ({ transactionId: startJob(context)?.req.transaction_id ?? '' }),
            onDone: [
              // The same transaction, still running: the same answer, nothing sent.
              { guard: { type: 'startRepeatOfOpen', params: rowOf }, target: '#transactions.idle', actions: [{ type: 'answerStartFromJournal', params: rowOf }, 'endJob'] },
              { guard: { type: 'startIdUsed', params: rowOf }, target: '#transactions.idle', actions: [{ type: 'refuseUsedId', params: rowOf }, 'endJob'] },
              { target: 'journaling' },
            ],
            onError: { target: '#transactions.idle', actions: [{ type: 'answerJournalFailed', params: ({ event }) => ({ error: event.error }) }, 'endJob'] },
          },
        },
        journaling: {
          // Written before the start reaches the meter.
          invoke: {
            src: 'writeStartRequested',
            input: ({ context }) => ({ req: startJob(context)!.req }),
            onDone: { target: 'commanding', actions: { type: 'assignJournalId', params: ({ event }) => event.output } },
            onError: { target: '#transactions.idle', actions: [{ type: 'answerJournalFailed', params: ({ event }) => ({ error: event.error }) }, 'endJob'] },
          },
        },
        commanding: {
          entry: 'sendStart',
          on: {
            METER_STARTED: {
              guard: { type: 'answersJob', params: ({ event }) => ({ requestId: event.requestId }) },
              target: 'recording',
              actions: [{ type: 'assignStartAnswer', params: startAnswer }, { type: 'noteStarted', params: startAnswer }],
            },
          },
        },
        recording: {
          // Stored before answered: the answer is on this state's way out.
          invoke: {
            src: 'writeStartAnswered',
            input: ({ context }) => startJob(context)!.answer!,
            onDone: { target: '#transactions.idle', actions: ['answerStarted', 'endJob'] },
            onError: { target: '#transactions.idle', actions: [{ type: 'logJournalError', params: failure('start answer') }, 'answerStarted', 'endJob'] },
          },
        },
      },
    },
    stopping: {
      tags: 'busy',
      initial: 'checking',
      on: { START: busy, STOP: busy },
      states: {
        checking: {
          invoke: {
            src: 'readRow',
            input: ({ context }) => ({ transactionId: stopJob(context)?.transactionId ?? '' }),
            onDone: [
              { guard: { type: 'stopAnsweredBefore', params: rowOf }, target: '#transactions.idle', actions: [{ type: 'answerStopFromJournal', params: rowOf }, 'endJob'] },
              { guard: { type: 'stopNeverStarted', params: rowOf }, target: '#transactions.idle', actions: ['refuseNeverStarted', 'endJob'] },
              {
                guard: { type: 'stopWorthJournaling', params: ({ context, event }) => ({ row: event.output, transactionId: stopJob(context)?.transactionId ?? '' }) },
                target: 'journaling',
              },
              { target: 'commanding' },
            ],
            onError: { target: '#transactions.idle', actions: [{ type: 'answerJournalFailed', params: ({ event }) => ({ error: event.error }) }, 'endJob'] },
          },
        },
        journaling: {
          invoke: {
            src: 'writeStopRequested',
            input: ({ context }) => ({ transactionId: stopJob(context)?.transactionId ?? '', why: 'command' as const }),
            onDone: { target: 'commanding', actions: { type: 'assignJournalId', params: ({ event }) => event.output } },
            onError: { target: '#transactions.idle', actions: [{ type: 'answerJournalFailed', params: ({ event }) => ({ error: event.error }) }, 'endJob'] },
          },
        },
        commanding: {
          entry: 'sendStop',
          on: {
            METER_STOPPED: {
              guard: { type: 'answersJob', params: ({ event }) => ({ requestId: event.requestId }) },
              target: 'filing',
              actions: [{ type: 'assignStopAnswer', params: stopAnswer }, { type: 'noteStopped', params: stopAnswer }],
            },
          },
        },
        filing: {
          // A final record is stored whatever asked for it; a failure counts only as the answer to the journaled request.
          invoke: {
            src: 'writeStopAnswered',
            input: jobStopAnswer,
            onDone: [
              // Stored: answered, published with its key, then marked published.
              { guard: { type: 'storedNew', params: ({ event }) => event.output }, target: 'publishing', actions: [{ type: 'assignFiled', params: ({ event }) => event.output }, 'answerStopped', 'publishJob'] },
              // Not stored (a failure, or the journal failed): published unless the same record reached the feed before.
              { guard: { type: 'needsPublication', params: ({ event }) => event.output }, target: 'answered', actions: [{ type: 'assignFiled', params: ({ event }) => event.output }, 'answerStopped', 'publishJob'] },
              { target: 'answered', actions: [{ type: 'assignFiled', params: ({ event }) => event.output }, 'answerStopped'] },
            ],
            onError: { target: 'answered', actions: [{ type: 'logJournalError', params: failure('stop answer') }, 'answerStopped', 'publishJob'] },
          },
        },
        publishing: {
          invoke: {
            src: 'writePublished',
            input: ({ context }) => ({ transactionId: stopJob(context)?.transactionId ?? '' }),
            onDone: 'answered',
            onError: { target: 'answered', actions: { type: 'logJournalError', params: failure('publication') } },
          },
        },
        answered: {
          always: [
            // A stop that failed (the meter was unreachable) is tried again by the recovery passes.
            { guard: 'filedStopFailed', target: '#transactions.idle', actions: ['markRecoveryLater', 'endJob'] },
            { target: '#transactions.idle', actions: 'endJob' },
          ],
        },
      },
    },
    filingFound: {
      tags: 'busy',
      initial: 'filing',
      on: { START: busy, STOP: busy },
      states: {
        filing: {
          invoke: {
            src: 'writeStopAnswered',
            input: ({ context }) => context.found[0]!,
            onDone: [
              { guard: { type: 'storedNew', params: ({ event }) => event.output }, target: 'publishing', actions: { type: 'publishFound', params: ({ event }) => event.output } },
              // Stored before, and published: nothing to do.
              { target: '#transactions.idle', actions: 'dropFound' },
            ],
            onError: { target: '#transactions.idle', actions: [{ type: 'logJournalError', params: failure('record of a dangling transaction') }, 'dropFound'] },
          },
        },
        publishing: {
          invoke: {
            src: 'writePublished',
            input: ({ context }) => ({ transactionId: context.found[0]?.transactionId ?? '' }),
            onDone: { target: '#transactions.idle', actions: 'dropFound' },
            onError: { target: '#transactions.idle', actions: [{ type: 'logJournalError', params: failure('publication') }, 'dropFound'] },
          },
        },
      },
    },
    recovering: {
      tags: 'busy',
      initial: 'loading',
      entry: 'beginPass',
      on: { START: busy, STOP: busy },
      states: {
        loading: {
          invoke: {
            src: 'loadRecovery',
            input: ({ context }) => ({ openTransactionId: context.deviceOpen?.transactionId }),
            onDone: [
              { guard: { type: 'openUnknown', params: ({ event }) => event.output }, target: 'recordingFound', actions: { type: 'assignWork', params: ({ event }) => event.output } },
              { target: 'replaying', actions: [{ type: 'assignWork', params: ({ event }) => event.output }, 'announceDeviceOpen'] },
            ],
            onError: { target: '#transactions.idle', actions: [{ type: 'logJournalError', params: failure('recovery') }, 'markRecoveryLater'] },
          },
        },
        recordingFound: {
          // A transaction open on the meter that the journal does not know: its row takes the meter's EVSE and start time.
          invoke: {
            src: 'writeFoundOpen',
            input: ({ context }) => context.deviceOpen!,
            onDone: { target: 'replaying', actions: 'announceDeviceOpen' },
            onError: { target: 'replaying', actions: [{ type: 'logJournalError', params: failure('transaction found open') }, 'announceDeviceOpen'] },
          },
        },
        replaying: {
          always: [{ guard: 'hasReplay', target: 'markingReplay', actions: 'publishReplay' }, { target: 'nextRow' }],
        },
        markingReplay: {
          invoke: {
            src: 'writePublished',
            input: ({ context }) => ({ transactionId: context.replays[0]?.transactionId ?? '' }),
            onDone: { target: 'replaying', actions: 'dropReplay' },
            onError: { target: 'replaying', actions: [{ type: 'logJournalError', params: failure('publication') }, 'dropReplay'] },
          },
        },
        nextRow: {
          entry: 'endRow',
          always: [
            { guard: 'noRows', target: '#transactions.idle' },
            { guard: 'nextRowAdoptable', target: 'adopting', actions: 'takeRow' },
            { target: 'requestingStop', actions: ['takeRow', 'logRecovering'] },
          ],
        },
        adopting: {
          always: [{ guard: 'rowOpen', target: 'nextRow' }, { target: 'settlingAdopted' }],
        },
        settlingAdopted: {
          // A repeated start of this id is answered OK from now on, as the lost answer would have been.
          invoke: {
            src: 'writeSettle',
            input: ({ context }) => ({
              transactionId: context.row?.row.transactionId ?? '', state: 'open' as const, why: 'the start had no answer before the restart; the meter has the transaction open',
              startResponse: context.row && startUnconfirmed(context.row.row) ? { status: 'OK' as const } : undefined,
            }),
            onDone: { target: 'nextRow', actions: 'emitAdopted' },
            onError: { target: 'nextRow', actions: [{ type: 'logJournalError', params: failure('recovery verdict') }, 'markRecoveryLater'] },
          },
        },
        requestingStop: {
          invoke: {
            src: 'writeStopRequested',
            input: ({ context }) => ({ transactionId: context.row?.row.transactionId ?? '', why: 'recovery' as const }),
            onDone: { target: 'commanding', actions: { type: 'assignRowJournalId', params: ({ event }) => event.output } },
            onError: { target: 'nextRow', actions: [{ type: 'logJournalError', params: failure('recovery stop') }, 'markRecoveryLater'] },
          },
        },
        commanding: {
          // A transaction the meter no longer has open is not PUT again: its record is read by id.
          entry: 'sendRecoveryStop',
          on: {
            METER_STOPPED: {
              guard: { type: 'answersRow', params: ({ event }) => ({ requestId: event.requestId }) },
              target: 'filing',
              actions: [{ type: 'assignRowAnswer', params: stopAnswer }, { type: 'noteStopped', params: stopAnswer }],
            },
          },
        },
        filing: {
          invoke: {
            src: 'writeStopAnswered',
            input: ({ context }) => context.row!.answer!,
            onDone: { target: 'judging', actions: { type: 'assignRowFiled', params: ({ event }) => event.output } },
            onError: { target: 'nextRow', actions: [{ type: 'logJournalError', params: failure('stop answer') }, 'markRecoveryLater'] },
          },
        },
        judging: {
          always: [
            { guard: 'rowNeedsPublication', target: 'publishing', actions: 'publishRow' },
            { guard: 'rowClosed', target: 'nextRow' },
            { guard: 'rowDeferrable', target: 'nextRow', actions: ['logDeferred', 'markRecoveryLater'] },
            { guard: 'rowStartUnconfirmed', target: 'settlingNeverStarted' },
            { guard: 'rowAttemptsExhausted', target: 'settlingLost' },
            { target: 'nextRow', actions: 'markRecoveryLater' },
          ],
        },
        publishing: {
          invoke: {
            src: 'writePublished',
            input: ({ context }) => ({ transactionId: context.row?.row.transactionId ?? '' }),
            onDone: 'nextRow',
            onError: { target: 'nextRow', actions: { type: 'logJournalError', params: failure('publication') } },
          },
        },
        settlingNeverStarted: {
          invoke: {
            src: 'writeSettle',
            input: ({ context }) => ({ transactionId: context.row?.row.transactionId ?? '', state: 'start_failed' as const, why: `the meter has no record of it: the start never reached the meter (${context.row?.answer?.response.error ?? ''})` }),
            onDone: { target: 'nextRow', actions: 'logNeverStarted' },
            onError: { target: 'nextRow', actions: [{ type: 'logJournalError', params: failure('recovery verdict') }, 'markRecoveryLater'] },
          },
        },
        settlingLost: {
          invoke: {
            src: 'writeSettle',
            input: ({ context }) => ({ transactionId: context.row?.row.transactionId ?? '', state: 'lost' as const, why: context.row?.answer?.response.error ?? 'no record' }),
            onDone: { target: 'nextRow', actions: 'logLost' },
            onError: { target: 'nextRow', actions: [{ type: 'logJournalError', params: failure('recovery verdict') }, 'markRecoveryLater'] },
          },
        },
      },
    },
  },
});

export type { Job };
