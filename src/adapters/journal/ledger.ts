/**
 * One meter's transactions through the journal: each command is written before it reaches the meter, each answer
 * after, and each signed record is stored before it is published on the feed (with its idempotency key) and marked
 * published after. After a restart `recover()` settles what the journal left unfinished:
 *
 * | journal state            | meter has it open               | meter does not                                   |
 * |--------------------------|---------------------------------|--------------------------------------------------|
 * | start_requested          | adopted as open (no second POST)| its record is read by id: closed; none: never started |
 * | open                     | adopted, runs on                | its record is read by id (closed at power loss)  |
 * | stop_requested / _failed | stopped (PUT + record)          | its record is read by id                         |
 * | closed, not published    | published again, same key                                                        |
 *
 * A transaction whose command of this process is still on its way is left alone (its answer settles it). A record
 * that cannot be read (transport, meter busy) is tried again at the next pass; after `maxRecoveryAttempts` answers
 * without a record the transaction is marked `lost` and logged as an error.
 */
import { randomUUID } from 'node:crypto';
import type { MeterEmitted } from '../../../machines/meter/meter.types.js';
import type { TransactionReq, TransactionStartResponse, TransactionStopResponse } from '../../domain/powermeter.js';
import type { Logger } from '../../logger.js';
import type { FeedPayloads } from '../feed/feed.messages.js';
import type { MeterDriver } from '../lem-dcbm/meter.driver.js';
import { recordKey, UNFINISHED, type Journal, type TransactionRow } from './journal.js';

export interface LedgerOptions {
  meter: string;
  evseId: string;
  driver: MeterDriver;
  journal: Journal;
  log: Logger;
  publish(payload: FeedPayloads['transaction.stopped']): void;
  /** A transaction the meter still runs after a restart (the feed lists it as open). */
  onAdopted(transactionId: string): void;
  maxRecoveryAttempts?: number;
}

type Stopped = Extract<MeterEmitted, { type: 'transaction.stopped' }>;
type Started = Extract<MeterEmitted, { type: 'transaction.started' }>;

const transportFailure = (response: TransactionStopResponse): boolean => response.error?.includes('connection to device failed') === true;

export class MeterLedger {
  #recovering: Promise<void> | undefined;
  /** Transactions with a command of this process awaiting its answer: recovery leaves them alone. */
  readonly #inFlight = new Set<string>();
  /** A recovery pass left rows alone (a command was running): the periodic pass goes over everything again. */
  #recoveryDeferred = false;

  constructor(private readonly o: LedgerOptions) {}

  #openOnMeter(transactionId: string): boolean {
    const { context } = this.o.driver.actor.getSnapshot();
    return context.needToStop && context.currentTxId === transactionId;
  }

  /** start_transaction: refused without a POST when the id was used before (nothing starts twice). */
  async start(req: TransactionReq): Promise<TransactionStartResponse> {
    const { meter, evseId, journal, driver } = this.o;
    const id = req.transaction_id;
    const row = journal.transaction(meter, id);
    if (row && row.state !== 'start_failed') {
      if (row.state === 'open' && this.#openOnMeter(id) && row.startResponse) return row.startResponse as TransactionStartResponse;
      return { status: 'UNEXPECTED_ERROR', error: `Failed to start transaction ${id}: this transaction id was used before (journal: ${row.state}); nothing was sent to the meter` };
    }
    if (driver.busy()) return { status: 'UNEXPECTED_ERROR', error: `Failed to start transaction ${id}: another transaction command is in progress` };
    const requestId = randomUUID();
    journal.startRequested(meter, evseId, id, requestId, req);
    return this.#tracked(id, driver.startTransaction(req, requestId));
  }

  async #tracked<T>(transactionId: string, answer: Promise<T>): Promise<T> {
    this.#inFlight.add(transactionId);
    try {
      return await answer;
    } finally {
      this.#inFlight.delete(transactionId);
    }
  }

  /** stop_transaction: a transaction whose record is already stored answers from the journal, without the meter. */
  async stop(transactionId: string, why: 'command' | 'recovery' = 'command'): Promise<TransactionStopResponse> {
    const { meter, evseId, journal, driver } = this.o;
    const row = transactionId === '' ? undefined : journal.transaction(meter, transactionId);
    if (row?.state === 'closed' && row.stopResponse) return row.stopResponse as TransactionStopResponse;
    if (row?.state === 'start_failed' && !this.#openOnMeter(transactionId) && why === 'command') {
      return { status: 'UNEXPECTED_ERROR', error: `Failed to stop transaction ${transactionId}: it never started (journal: start_failed)` };
    }
    if (driver.busy()) return { status: 'UNEXPECTED_ERROR', error: `Failed to stop transaction ${transactionId}: another transaction command is in progress` };
    const requestId = randomUUID();
    // A stop for an id the journal does not know and the meter does not run has nothing to lose: not journaled.
    if (row || (transactionId !== '' && this.#openOnMeter(transactionId))) journal.stopRequested(meter, evseId, transactionId, requestId, why);
    return this.#tracked(transactionId, driver.stopTransaction(transactionId, { requestId, recover: why === 'recovery' }));
  }

  /** Every `transaction.started` the meter chart emits. */
  onStarted(event: Started): void {
    this.#guard('start answer', () => this.o.journal.startAnswered(this.o.meter, event.transactionId, event.requestId, event.response));
  }

  /** Every `transaction.stopped`: stored, then published with its key, then marked published. */
  onStopped(event: Stopped): void {
    const { meter, evseId, journal } = this.o;
    const stored = this.#guard('stop answer', () => journal.stopAnswered(meter, evseId, event));
    if (stored?.duplicate && journal.transaction(meter, event.transactionId)?.publishedAt) return;
    this.o.publish({
      meter, evseId, transactionId: event.transactionId, final: event.final, response: event.response,
      ocmf: event.response.signed_meter_value?.signed_meter_data ?? null,
      // The key is the record's, even when the journal could not store it (then the error is logged).
      key: stored?.key ?? (event.final && event.response.status === 'OK' && event.response.signed_meter_value ? recordKey(meter, event.transactionId) : null),
    });
    if (stored) this.#guard('publication', () => journal.markPublished(meter, event.transactionId));
  }

  #guard<T>(what: string, work: () => T): T | undefined {
    try {
      return work();
    } catch (error) {
      // The meter keeps its records; the next recovery pass reads them again.
      this.o.log.error({ err: (error as Error).message }, `journal: could not write the ${what}`);
      return undefined;
    }
  }

  /** Whether the periodic pass has work: failed stops, or rows an earlier pass had to leave. */
  needsRecovery(): boolean {
    return this.#recoveryDeferred || this.failedStops().length > 0;
  }

  /** Stops that failed and wait for another try (the periodic pass works on these). */
  failedStops(): TransactionRow[] {
    return this.o.journal.transactions({ meter: this.o.meter, states: ['stop_failed'] });
  }

  /**
   * Settles what the journal left unfinished: after every (re)connect of the meter, and periodically while failed
   * stops or deferred rows remain. Runs once at a time; safe to call again.
   */
  recover(): Promise<void> {
    this.#recovering ??= this.#recover()
      // A journal that cannot be written is logged; the rows stay as they are and the next pass tries again.
      .catch((error: unknown) => this.o.log.error({ err: (error as Error).message }, 'journal: recovery failed'))
      .finally(() => { this.#recovering = undefined; });
    return this.#recovering;
  }

  async #recover(): Promise<void> {
    const { meter, evseId, journal, log } = this.o;
    for (const row of journal.unpublished(meter)) {
      log.warn({ transactionId: row.transactionId, key: row.recordKey }, 'journal: publishing a stored record the last run did not publish');
      this.o.publish({
        meter, evseId, transactionId: row.transactionId, final: true, response: row.stopResponse as TransactionStopResponse,
        ocmf: row.ocmf, key: row.recordKey, replayed: true,
      });
      journal.markPublished(meter, row.transactionId);
    }
    this.#recoveryDeferred = false;
    for (const row of journal.transactions({ meter, states: UNFINISHED })) {
      const id = row.transactionId;
      // A command of this process is on its way (its answer settles the row), or the meter is busy with one: later.
      if (this.#inFlight.has(id) || this.o.driver.busy()) {
        this.#recoveryDeferred = true;
        continue;
      }
      const openOnMeter = this.#openOnMeter(id);
      // A start that never got its answer stays unconfirmed through any number of restarts and recovery attempts.
      const startUnconfirmed = row.startRequestId !== null && row.startResponse === null;
      if ((row.state === 'open' || startUnconfirmed) && openOnMeter) {
        if (row.state !== 'open') {
          // Adopted: a repeated start of this id is answered OK, as the lost answer would have been.
          journal.settle(meter, id, 'open', 'the start had no answer before the restart; the meter has the transaction open', startUnconfirmed ? { status: 'OK' } : undefined);
          this.o.onAdopted(id);
          log.warn({ transactionId: id }, 'journal: a transaction whose start had no answer is open on the meter; it runs on');
        }
        continue;
      }
      log.warn({ transactionId: id, state: row.state, openOnMeter }, 'journal: recovering a transaction left unfinished');
      const response = await this.stop(id, 'recovery');
      if (response.status === 'OK' && response.signed_meter_value) continue;
      const now = journal.transaction(meter, id);
      if (!now || now.state === 'closed') continue;
      if (transportFailure(response) || this.#inFlight.has(id) || response.error?.includes('in progress') === true) {
        this.#recoveryDeferred = true;
        log.warn({ transactionId: id, error: response.error }, 'journal: no verdict yet (the meter is unreachable or busy); recovery tries again later');
      } else if (startUnconfirmed) {
        journal.settle(meter, id, 'start_failed', `the meter has no record of it: the start never reached the meter (${response.error ?? ''})`);
        log.warn({ transactionId: id }, 'journal: a start without answer never reached the meter');
      } else if (now.recoveryAttempts >= (this.o.maxRecoveryAttempts ?? 5)) {
        journal.settle(meter, id, 'lost', response.error ?? 'no record');
        log.error({ transactionId: id, error: response.error }, 'journal: the meter has no signed record of this transaction');
      }
    }
  }
}
