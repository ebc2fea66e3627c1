/**
 * The transaction chart of one meter (machines/transaction.machine.ts) on the real journal and the meter chart:
 * its journal actors (each a synchronous, fsync'd SQLite write, machines/transaction.machine.ts draws when), the
 * link to the meter actor, and the command channel (a command is answered by the chart's `answer` with the same
 * request id). The decisions (what starts, what recovery does with each row, when it runs again) are the chart's;
 * the recovery table is in the README.
 */
import { randomUUID } from 'node:crypto';
import { createActor, fromCallback, fromPromise, waitFor, type Actor, type ActorOptions } from 'xstate';
import type { DeviceTransaction, MeterEmitted } from '../../../machines/meter/meter.types.js';
import { transactionMachine } from '../../../machines/transaction.machine.js';
import type { JournalRow, MeterCommandEvent, RecoveryWork, StartAnswer, StopAnswer, StopFiled, TransactionEmitted, TransactionEvent } from '../../../machines/transaction.types.js';
import type { TransactionReq, TransactionStartResponse, TransactionStopResponse } from '../../domain/powermeter.js';
import type { MeterActor } from '../lem-dcbm/meter.driver.js';
import { recordKey, UNFINISHED, type Journal, type TransactionRow } from './journal.js';

export interface LedgerOptions {
  meter: string;
  evseId: string;
  meterActor: MeterActor;
  journal: Journal;
  /** How long after a pass with failed stops the next one runs (default 30 s). */
  recoveryIntervalMs?: number | undefined;
  maxRecoveryAttempts?: number | undefined;
  inspect?: ActorOptions<typeof transactionMachine>['inspect'];
}

export type LedgerActor = Actor<typeof transactionMachine>;

export interface Ledger {
  readonly actor: LedgerActor;
  start(req: TransactionReq): Promise<TransactionStartResponse>;
  stop(transactionId: string): Promise<TransactionStopResponse>;
  /** Stops that failed and wait for another recovery pass. */
  failedStops(): number;
  /** Waits (bounded) until no command or recovery pass runs; false when it did not end in time. */
  settle(timeoutMs: number): Promise<boolean>;
  close(): void;
}

const rowView = (row: TransactionRow): JournalRow => ({
  transactionId: row.transactionId, state: row.state, startRequestId: row.startRequestId,
  startResponse: (row.startResponse ?? null) as JournalRow['startResponse'], stopResponse: (row.stopResponse ?? null) as JournalRow['stopResponse'],
  ocmf: row.ocmf, recordKey: row.recordKey, publishedAt: row.publishedAt, recoveryAttempts: row.recoveryAttempts, startedAt: row.startedAt, createdAt: row.createdAt,
});

/** The meter chart's answers and connects as the transaction chart's events. */
function meterEvent(event: MeterEmitted): TransactionEvent | undefined {
  switch (event.type) {
    case 'identity':
      return { type: 'METER_CONNECTED', openTransaction: event.openTransaction };
    case 'transaction.started':
      return { type: 'METER_STARTED', requestId: event.requestId, transactionId: event.transactionId, response: event.response, cause: event.cause };
    case 'transaction.stopped':
      return { type: 'METER_STOPPED', requestId: event.requestId, transactionId: event.transactionId, response: event.response, final: event.final, cause: event.cause };
    default:
      return undefined;
  }
}

/** The journal and meter behind the chart's actors. */
export function ledgerActors(o: { meter: string; evseId: string; journal: Journal; meterActor: MeterActor }) {
  const { meter, evseId, journal, meterActor } = o;
  const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    meterLink: fromCallback<MeterCommandEvent, void>(({ sendBack, receive }) => {
      const subs = (['identity', 'transaction.started', 'transaction.stopped'] as const).map((type) => meterActor.on(type, (e) => {
        const event = meterEvent(e as MeterEmitted);
        if (event) sendBack(event);
      }));
      receive((command) => {
        if (command.type === 'METER.START') meterActor.send({ type: 'START_TRANSACTION', requestId: command.requestId, req: command.req });
        else meterActor.send({ type: 'STOP_TRANSACTION', requestId: command.requestId, transactionId: command.transactionId, ...(command.recover ? { recover: true } : {}) });
      });
      return () => { for (const sub of subs) sub.unsubscribe(); };
    }),
    readRow: fromPromise<JournalRow | undefined, { transactionId: string }>(async ({ input }) => {
      const row = input.transactionId === '' ? undefined : journal.transaction(meter, input.transactionId);
      return row ? rowView(row) : undefined;
    }),
    writeStartRequested: fromPromise<{ journalId: string }, { req: TransactionReq }>(async ({ input }) => {
      const journalId = randomUUID();
      journal.startRequested(meter, evseId, input.req.transaction_id, journalId, input.req);
      return { journalId };
    }),
    writeStartAnswered: fromPromise<void, StartAnswer>(async ({ input }) => {
      journal.startAnswered(meter, input.transactionId, input.requestId, input.response);
    }),
    writeStopRequested: fromPromise<{ journalId: string }, { transactionId: string; why: 'command' | 'recovery' }>(async ({ input }) => {
      const journalId = randomUUID();
      journal.stopRequested(meter, evseId, input.transactionId, journalId, input.why);
      return { journalId };
    }),
    writeStopAnswered: fromPromise<StopFiled, StopAnswer>(async ({ input }) => {
      const before = journal.transaction(meter, input.transactionId);
      const stored = journal.stopAnswered(meter, evseId, input);
      const after = journal.transaction(meter, input.transactionId);
      return { stored: stored !== undefined, key: stored?.key, duplicate: stored?.duplicate ?? false, published: (stored?.duplicate ?? false) && before?.publishedAt != null, state: after?.state };
    }),
    writePublished: fromPromise<void, { transactionId: string }>(async ({ input }) => {
      journal.markPublished(meter, input.transactionId);
    }),
    writeSettle: fromPromise<void, { transactionId: string; state: 'open' | 'start_failed' | 'lost'; why: string; startResponse?: TransactionStartResponse | undefined }>(async ({ input }) => {
      journal.settle(meter, input.transactionId, input.state, input.why, input.startResponse);
    }),
    writeFoundOpen: fromPromise<void, DeviceTransaction>(async ({ input }) => {
      journal.foundOpen(meter, input.evseId ?? evseId, input.transactionId, iso(input.startedAtMs));
    }),
    loadRecovery: fromPromise<RecoveryWork, { openTransactionId: string | undefined }>(async ({ input }) => ({
      unpublished: journal.unpublished(meter).map(rowView),
      unfinished: journal.transactions({ meter, states: UNFINISHED }).map(rowView),
      openUnknown: input.openTransactionId !== undefined && input.openTransactionId !== '' && journal.transaction(meter, input.openTransactionId) === undefined,
    })),
  };
}

export function createLedger(o: LedgerOptions): Ledger {
  const { meter, journal } = o;
  const machine = transactionMachine.provide({ actors: ledgerActors(o) });
  const actor = createActor(machine, {
    input: { meter, evseId: o.evseId, recoveryIntervalMs: o.recoveryIntervalMs ?? 30_000, maxRecoveryAttempts: o.maxRecoveryAttempts ?? 5 },
    ...(o.inspect ? { inspect: o.inspect } : {}),
  });
  const ask = <R>(send: (requestId: string) => TransactionEvent): Promise<R> => {
    const requestId = randomUUID();
    return new Promise<R>((resolve) => {
      const sub = actor.on('answer', (event: Extract<TransactionEmitted, { type: 'answer' }>) => {
        if (event.requestId !== requestId) return;
        sub.unsubscribe();
        resolve(event.response as R);
      });
      actor.send(send(requestId));
    });
  };
  return {
    actor,
    start: (req) => ask<TransactionStartResponse>((requestId) => ({ type: 'START', requestId, req })),
    stop: (transactionId) => ask<TransactionStopResponse>((requestId) => ({ type: 'STOP', requestId, transactionId })),
    failedStops: () => journal.transactions({ meter, states: ['stop_failed'] }).length,
    async settle(timeoutMs) {
      try {
        await waitFor(actor, (snapshot) => !snapshot.hasTag('busy'), { timeout: timeoutMs });
        return true;
      } catch {
        return false;
      }
    },
    close: () => actor.stop(),
  };
}

export { recordKey };
