/**
 * The durable journal: every step of every transaction, the signed records (OCMF) and whether each reached the
 * feed, and the 2030.5 registration results. Embedded SQLite (`node:sqlite`), one file `<state_dir>/journal.sqlite`.
 *
 * Durability: WAL journal mode with `synchronous = FULL`, so each commit is fsynced to the WAL before the call
 * returns; a `kill -9` or a power cut after a call loses nothing that call wrote. Every write is one SQL
 * transaction (`BEGIN IMMEDIATE`), so a row and its step are written together or not at all. The API is
 * synchronous on purpose: a step is on disk before the controller acts on the next one (for a start: before the
 * POST reaches the meter).
 */
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** Where a transaction stands. `closed` carries the final signed record; `lost` means the meter has none. */
export const TRANSACTION_STATES = ['start_requested', 'start_failed', 'open', 'stop_requested', 'stop_failed', 'closed', 'lost'] as const;
export type TransactionState = (typeof TRANSACTION_STATES)[number];
/** States recovery works on after a restart (the transaction may be open on the meter, or its record unread). */
export const UNFINISHED: readonly TransactionState[] = ['start_requested', 'open', 'stop_requested', 'stop_failed'];

export interface TransactionRow {
  meter: string;
  transactionId: string;
  evseId: string;
  state: TransactionState;
  /** Request id of the start command whose answer settles `start_requested`. */
  startRequestId: string | null;
  startRequest: unknown;
  startResponse: unknown;
  stopRequestId: string | null;
  stopResponse: unknown;
  /** The final signed record (OCMF text); an intermediate one is kept apart. */
  ocmf: string | null;
  intermediateOcmf: string | null;
  publicKey: string | null;
  /** Idempotency key of the record on the feed: `ocmf/<meter>/<transactionId>`. */
  recordKey: string | null;
  /** When the final record was stored. */
  closedAt: string | null;
  publishedAt: string | null;
  recoveryAttempts: number;
  /** When the transaction started: the start's answer, or the meter's record of one found open. */
  startedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface StepRow {
  seq: number;
  at: string;
  meter: string;
  transactionId: string;
  step: string;
  detail: unknown;
}

export interface RegistrationRow {
  site: string;
  /** Hash of the site's registration data and server; a change means registering again. */
  fingerprint: string;
  lfdi: string;
  endDevice: string;
  der: string | null;
  registeredAt: string;
}

export const recordKey = (meter: string, transactionId: string): string => `ocmf/${meter}/${transactionId}`;

/** 2: `started_at` (v1 files get the column when opened). */
const SCHEMA_VERSION = 2;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS transactions (
  meter TEXT NOT NULL,
  transaction_id TEXT NOT NULL,
  evse_id TEXT NOT NULL,
  state TEXT NOT NULL,
  start_request_id TEXT,
  start_request TEXT,
  start_response TEXT,
  stop_request_id TEXT,
  stop_response TEXT,
  ocmf TEXT,
  intermediate_ocmf TEXT,
  public_key TEXT,
  record_key TEXT UNIQUE,
  closed_at TEXT,
  published_at TEXT,
  recovery_attempts INTEGER NOT NULL DEFAULT 0,
  started_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (meter, transaction_id)
) STRICT;
CREATE INDEX IF NOT EXISTS transactions_state ON transactions (state);
CREATE TABLE IF NOT EXISTS steps (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  meter TEXT NOT NULL,
  transaction_id TEXT NOT NULL,
  step TEXT NOT NULL,
  detail TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS steps_transaction ON steps (meter, transaction_id);
CREATE TABLE IF NOT EXISTS registrations (
  site TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  lfdi TEXT NOT NULL,
  end_device TEXT NOT NULL,
  der TEXT,
  registered_at TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS der_state (
  site TEXT PRIMARY KEY,
  end_device TEXT NOT NULL,
  state TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
`;

type SqlRow = Record<string, string | number | null>;
const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));
const parse = (text: unknown): unknown => (typeof text === 'string' ? JSON.parse(text) : null);

function toTransaction(row: SqlRow): TransactionRow {
  return {
    meter: String(row.meter), transactionId: String(row.transaction_id), evseId: String(row.evse_id), state: row.state as TransactionState,
    startRequestId: row.start_request_id as string | null, startRequest: parse(row.start_request), startResponse: parse(row.start_response),
    stopRequestId: row.stop_request_id as string | null, stopResponse: parse(row.stop_response),
    ocmf: row.ocmf as string | null, intermediateOcmf: row.intermediate_ocmf as string | null, publicKey: row.public_key as string | null,
    recordKey: row.record_key as string | null, closedAt: row.closed_at as string | null, publishedAt: row.published_at as string | null, recoveryAttempts: Number(row.recovery_attempts),
    startedAt: (row.started_at ?? null) as string | null,
    createdAt: String(row.created_at), updatedAt: String(row.updated_at),
  };
}

function toRegistration(row: SqlRow): RegistrationRow {
  return { site: String(row.site), fingerprint: String(row.fingerprint), lfdi: String(row.lfdi), endDevice: String(row.end_device), der: row.der as string | null, registeredAt: String(row.registered_at) };
}

export class Journal {
  readonly #db: DatabaseSync;
  readonly #now: () => string;

  private constructor(readonly file: string, now: () => string, readOnly: boolean) {
    this.#now = now;
    try {
      if (readOnly && !existsSync(file)) throw new Error('there is no journal there (the controller creates it in its state_dir at its first start)');
      if (!readOnly && file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      this.#db = new DatabaseSync(file, { timeout: 5_000, readOnly });
      // Records carry identification data: owner-only, like the rest of state_dir (SQLite gives -wal/-shm the same mode).
      if (!readOnly && file !== ':memory:') chmodSync(file, 0o600);
      const version = Number((this.#db.prepare('PRAGMA user_version').get() as SqlRow).user_version);
      if (version > SCHEMA_VERSION) throw new Error(`it was written by a newer charger-controller (schema ${version}, this one knows ${SCHEMA_VERSION})`);
      if (!readOnly) {
        this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
        this.#db.exec(SCHEMA);
        const columns = (this.#db.prepare('PRAGMA table_info(transactions)').all() as SqlRow[]).map((c) => String(c.name));
        if (!columns.includes('started_at')) this.#db.exec('ALTER TABLE transactions ADD COLUMN started_at TEXT');
        this.#db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      }
    } catch (error) {
      throw new Error(`cannot open the journal ${file}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Opens (and creates) the journal file; `readOnly` for the journal commands, which may run beside the controller. */
  static open(file: string, options: { now?: () => string; readOnly?: boolean } = {}): Journal {
    return new Journal(file, options.now ?? (() => new Date().toISOString()), options.readOnly ?? false);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Bytes on disk: the database file with its write-ahead log and shared-memory index (0 in memory). */
  sizeBytes(): number {
    if (this.file === ':memory:') return 0;
    return ['', '-wal', '-shm'].reduce((total, suffix) => total + (statSync(`${this.file}${suffix}`, { throwIfNoEntry: false })?.size ?? 0), 0);
  }

  #atomically<T>(work: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  #step(meter: string, transactionId: string, step: string, detail?: unknown): void {
    this.#db.prepare('INSERT INTO steps (at, meter, transaction_id, step, detail) VALUES (?, ?, ?, ?, ?)').run(this.#now(), meter, transactionId, step, json(detail));
  }

  #update(meter: string, transactionId: string, fields: Record<string, string | number | null>): void {
    const names = Object.keys(fields);
    const sql = `UPDATE transactions SET ${names.map((n) => `${n} = ?`).join(', ')}, updated_at = ? WHERE meter = ? AND transaction_id = ?`;
    this.#db.prepare(sql).run(...names.map((n) => fields[n] ?? null), this.#now(), meter, transactionId);
  }

  /** Updates the row when there is one, else inserts it with these fields. */
  #upsert(existing: TransactionRow | undefined, meter: string, evseId: string, transactionId: string, fields: Record<string, string | number | null> & { state: TransactionState }): void {
    if (existing) {
      this.#update(meter, transactionId, fields);
      return;
    }
    const names = Object.keys(fields);
    const at = this.#now();
    this.#db.prepare(`INSERT INTO transactions (meter, transaction_id, evse_id, created_at, updated_at, ${names.join(', ')}) VALUES (?, ?, ?, ?, ?, ${names.map(() => '?').join(', ')})`)
      .run(meter, transactionId, evseId, at, at, ...names.map((n) => fields[n] ?? null));
  }

  transaction(meter: string, transactionId: string): TransactionRow | undefined {
    const row = this.#db.prepare('SELECT * FROM transactions WHERE meter = ? AND transaction_id = ?').get(meter, transactionId) as SqlRow | undefined;
    return row ? toTransaction(row) : undefined;
  }

  /** All transactions, oldest first; optionally only those of one meter or in the given states. */
  transactions(filter: { meter?: string; states?: readonly TransactionState[] } = {}): TransactionRow[] {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.meter !== undefined) {
      where.push('meter = ?');
      args.push(filter.meter);
    }
    if (filter.states) {
      where.push(`state IN (${filter.states.map(() => '?').join(', ')})`);
      args.push(...filter.states);
    }
    const sql = `SELECT * FROM transactions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, rowid`;
    return (this.#db.prepare(sql).all(...args) as SqlRow[]).map(toTransaction);
  }

  /** Closed records not yet handed to the feed (a crash came between the two). */
  unpublished(meter: string): TransactionRow[] {
    return (this.#db.prepare("SELECT * FROM transactions WHERE meter = ? AND state = 'closed' AND published_at IS NULL ORDER BY updated_at, rowid").all(meter) as SqlRow[]).map(toTransaction);
  }

  steps(meter?: string, transactionId?: string): StepRow[] {
    const rows = (meter === undefined
      ? this.#db.prepare('SELECT * FROM steps ORDER BY seq').all()
      : this.#db.prepare('SELECT * FROM steps WHERE meter = ? AND transaction_id = ? ORDER BY seq').all(meter, transactionId ?? '')) as SqlRow[];
    return rows.map((r) => ({ seq: Number(r.seq), at: String(r.at), meter: String(r.meter), transactionId: String(r.transaction_id), step: String(r.step), detail: parse(r.detail) }));
  }

  // ---- transaction steps ----

  /** Written before the start reaches the meter. A start that failed before may be tried again with the same id. */
  startRequested(meter: string, evseId: string, transactionId: string, requestId: string, request: unknown): void {
    this.#atomically(() => {
      const existing = this.transaction(meter, transactionId);
      if (existing && existing.state !== 'start_failed') throw new Error(`transaction ${transactionId} is already in the journal (${existing.state})`);
      this.#upsert(existing, meter, evseId, transactionId, { state: 'start_requested', start_request_id: requestId, start_request: json(request), start_response: null });
      this.#step(meter, transactionId, 'start requested', { requestId });
    });
  }

  /** The start's answer; only the answer to the journaled request settles it (a busy rejection of a duplicate does not). */
  startAnswered(meter: string, transactionId: string, requestId: string, response: { status: string }): boolean {
    return this.#atomically(() => {
      const row = this.transaction(meter, transactionId);
      if (row?.state !== 'start_requested' || row.startRequestId !== requestId) return false;
      this.#update(meter, transactionId, { state: response.status === 'OK' ? 'open' : 'start_failed', start_response: json(response), ...(response.status === 'OK' ? { started_at: this.#now() } : {}) });
      this.#step(meter, transactionId, response.status === 'OK' ? 'started' : 'start failed', response);
      return true;
    });
  }

  /** Written before the stop reaches the meter; a transaction unknown to the journal (opened elsewhere) gets a row. */
  stopRequested(meter: string, evseId: string, transactionId: string, requestId: string, why: 'command' | 'recovery'): void {
    this.#atomically(() => {
      const row = this.transaction(meter, transactionId);
      this.#upsert(row, meter, evseId, transactionId, { state: 'stop_requested', stop_request_id: requestId, ...(why === 'recovery' && row ? { recovery_attempts: row.recoveryAttempts + 1 } : {}) });
      this.#step(meter, transactionId, why === 'recovery' ? 'recovery stop requested' : 'stop requested', { requestId });
    });
  }

  /**
   * A stop's answer. A final signed record closes the transaction whatever asked for it (it is a fact from the
   * meter); a failure only counts when it answers the journaled stop request. Returns the record's key when closed.
   */
  stopAnswered(meter: string, evseId: string, answer: { requestId: string | undefined; transactionId: string; final: boolean; response: { status: string; signed_meter_value?: { signed_meter_data: string; public_key?: string | undefined } | undefined } }): { key: string; duplicate: boolean } | undefined {
    const { transactionId, response } = answer;
    const ocmf = response.signed_meter_value?.signed_meter_data;
    return this.#atomically(() => {
      const row = this.transaction(meter, transactionId);
      if (response.status === 'OK' && answer.final && ocmf) {
        const key = recordKey(meter, transactionId);
        if (row?.state === 'closed') return { key, duplicate: true };
        this.#upsert(row, meter, evseId, transactionId, { state: 'closed', stop_response: json(response), ocmf, public_key: response.signed_meter_value?.public_key ?? null, record_key: key, closed_at: this.#now() });
        this.#step(meter, transactionId, 'record stored', { key, bytes: ocmf.length });
        return { key, duplicate: false };
      }
      if (!row || row.stopRequestId !== answer.requestId || row.state !== 'stop_requested') return undefined;
      this.#update(meter, transactionId, { state: 'stop_failed', stop_response: json(response), ...(ocmf ? { intermediate_ocmf: ocmf } : {}) });
      this.#step(meter, transactionId, 'stop failed', response);
      return undefined;
    });
  }

  /**
   * A transaction the meter has open that the journal does not know (started by another controller, or before the
   * journal existed): a row in `open` with the EVSE and start time of the meter's record.
   */
  foundOpen(meter: string, evseId: string, transactionId: string, startedAt: string | null): void {
    this.#atomically(() => {
      if (this.transaction(meter, transactionId)) return;
      this.#upsert(undefined, meter, evseId, transactionId, { state: 'open', started_at: startedAt });
      this.#step(meter, transactionId, 'found open on the meter', { evseId, startedAt });
    });
  }

  markPublished(meter: string, transactionId: string): void {
    this.#atomically(() => {
      this.#update(meter, transactionId, { published_at: this.#now() });
      this.#step(meter, transactionId, 'published', null);
    });
  }

  /** Recovery's verdicts: adopted (open on the meter), never started, or lost (the meter has no record). */
  settle(meter: string, transactionId: string, state: 'open' | 'start_failed' | 'lost', why: string, startResponse?: unknown): void {
    this.#atomically(() => {
      this.#update(meter, transactionId, { state, ...(startResponse !== undefined ? { start_response: json(startResponse) } : {}) });
      this.#step(meter, transactionId, `recovery: ${state}`, { why });
    });
  }

  // ---- registration ----

  registration(site: string): RegistrationRow | undefined {
    const row = this.#db.prepare('SELECT * FROM registrations WHERE site = ?').get(site) as SqlRow | undefined;
    return row ? toRegistration(row) : undefined;
  }

  registrations(): RegistrationRow[] {
    return (this.#db.prepare('SELECT * FROM registrations ORDER BY site').all() as SqlRow[]).map(toRegistration);
  }

  registered(row: Omit<RegistrationRow, 'registeredAt'>): void {
    this.#db.prepare(`INSERT INTO registrations (site, fingerprint, lfdi, end_device, der, registered_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (site) DO UPDATE SET fingerprint = excluded.fingerprint, lfdi = excluded.lfdi, end_device = excluded.end_device, der = excluded.der, registered_at = excluded.registered_at`)
      .run(row.site, row.fingerprint, row.lfdi, row.endDevice, row.der, this.#now());
  }

  forgetRegistration(site: string): void {
    this.#db.prepare('DELETE FROM registrations WHERE site = ?').run(site);
  }

  // ---- DER client: what the utility's controls were, and the responses posted (applied at boot until a poll) ----

  derState(site: string, endDevice: string): unknown {
    const row = this.#db.prepare('SELECT state FROM der_state WHERE site = ? AND end_device = ?').get(site, endDevice) as SqlRow | undefined;
    return row ? parse(row.state) : undefined;
  }

  saveDerState(site: string, endDevice: string, state: unknown): void {
    this.#db.prepare(`INSERT INTO der_state (site, end_device, state, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (site) DO UPDATE SET end_device = excluded.end_device, state = excluded.state, updated_at = excluded.updated_at`)
      .run(site, endDevice, JSON.stringify(state), this.#now());
  }
}
