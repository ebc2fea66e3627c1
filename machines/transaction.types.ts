/**
 * Types of the transaction chart (machines/transaction.machine.ts): one per meter, between the feed's commands,
 * the journal and the meter chart. Its actors are the journal writes (src/adapters/journal/ledger.ts) and the link
 * to its meter chart.
 */
import type { ErrorInfo } from '../src/domain/errors.js';
import type { TransactionReq, TransactionStartResponse, TransactionStopResponse } from '../src/domain/powermeter.js';
import type { DeviceTransaction } from './meter/meter.types.js';

export interface TransactionMachineInput {
  meter: string;
  evseId: string;
  /** How long after a pass with failed stops, or rows it had to leave, the next recovery pass runs. */
  recoveryIntervalMs: number;
  /** Recovery passes that found no record before a transaction is marked lost. */
  maxRecoveryAttempts: number;
}

export type JournalState = 'start_requested' | 'start_failed' | 'open' | 'stop_requested' | 'stop_failed' | 'closed' | 'lost';

/** What the chart reads of a journal row. */
export interface JournalRow {
  transactionId: string;
  state: JournalState;
  startRequestId: string | null;
  startResponse: TransactionStartResponse | null;
  stopResponse: TransactionStopResponse | null;
  ocmf: string | null;
  recordKey: string | null;
  publishedAt: string | null;
  recoveryAttempts: number;
  startedAt: string | null;
  createdAt: string;
}

/** What the journal made of a stop's answer: stored as the final record (`key`), and the row's state after. */
export interface StopFiled {
  /** The journal holds the final record now (false: none, or the journal could not be written, which is logged). */
  stored: boolean;
  key: string | undefined;
  /** The record was stored before (a repeated stop, a replay). */
  duplicate: boolean;
  /** The stored record reached the feed before. */
  published: boolean;
  state: JournalState | undefined;
}

export interface StartAnswer {
  requestId: string;
  transactionId: string;
  response: TransactionStartResponse;
  cause?: ErrorInfo | undefined;
}

export interface StopAnswer {
  requestId: string | undefined;
  transactionId: string;
  response: TransactionStopResponse;
  final: boolean;
  cause?: ErrorInfo | undefined;
}

export interface RecoveryWork {
  /** Closed records the feed has not had (a crash came between the two). */
  unpublished: JournalRow[];
  /** Rows the journal left unfinished (start_requested, open, stop_requested, stop_failed). */
  unfinished: JournalRow[];
  /** The meter's open transaction has no row yet. */
  openUnknown: boolean;
}

/** The current command: the caller's request id, and the journal's own once written. */
export type Job =
  | { kind: 'start'; requestId: string; req: TransactionReq; journalId?: string | undefined; answer?: StartAnswer | undefined }
  | { kind: 'stop'; requestId: string; transactionId: string; journalId?: string | undefined; answer?: StopAnswer | undefined; filed?: StopFiled | undefined };

export interface TransactionContext {
  meter: string;
  evseId: string;
  config: TransactionMachineInput;
  /** What the meter last said it runs (its connect and link refreshes, and the answers to commands). */
  deviceOpen: DeviceTransaction | undefined;
  /** `due`: the meter (re)connected, a pass runs as soon as the chart is free; `later`: after the recovery interval. */
  recovery: 'none' | 'due' | 'later';
  job: Job | undefined;
  /** The recovery pass's work list, and the row it works on. */
  replays: JournalRow[];
  rows: JournalRow[];
  row: { row: JournalRow; journalId?: string | undefined; answer?: StopAnswer | undefined; filed?: StopFiled | undefined } | undefined;
  /** Final records the meter gave without a command of ours (a dangling transaction it closed before a start). */
  found: StopAnswer[];
}

export type TransactionEvent =
  | { type: 'START'; requestId: string; req: TransactionReq }
  | { type: 'STOP'; requestId: string; transactionId: string }
  // from the meter chart (through the meterLink actor)
  | { type: 'METER_CONNECTED'; openTransaction: DeviceTransaction | undefined }
  | ({ type: 'METER_STARTED' } & StartAnswer)
  | ({ type: 'METER_STOPPED' } & StopAnswer);

/** What the chart tells the meter chart (through the meterLink actor). */
export type MeterCommandEvent =
  | { type: 'METER.START'; requestId: string; req: TransactionReq }
  | { type: 'METER.STOP'; requestId: string; transactionId: string; recover: boolean };

/** The feed's `transaction.stopped` payload, less the meter and EVSE the wiring adds. */
export interface RecordPublication {
  transactionId: string;
  final: boolean;
  response: TransactionStopResponse;
  ocmf: string | null;
  key: string | null;
  replayed?: true;
}

export type TransactionEmitted =
  /** The answer to a START or STOP (by the caller's request id), given once the journal has it. */
  | { type: 'answer'; requestId: string; response: TransactionStartResponse | TransactionStopResponse }
  /** A start's answer from the meter, journaled: for the feed. */
  | { type: 'started'; transactionId: string; response: TransactionStartResponse }
  /** A stop's answer, journaled: for the feed (`transaction.stopped`). */
  | { type: 'record'; record: RecordPublication }
  /** The transaction runs on the meter (started, adopted after a restart, found open at connect). */
  | { type: 'opened'; transactionId: string; startedAt: string | undefined }
  | { type: 'closed'; transactionId: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string; detail: Record<string, unknown> };
