/**
 * The telemetry backlog: every closed interval's readings, kept in `<stateDir>/telemetry.sqlite` (node:sqlite, WAL)
 * until the server has taken them, so that a restart or an outage loses nothing and posts nothing twice. A reading is
 * written when its interval closes and deleted when its POST succeeded; after a restart the rows left are posted in
 * order. Per site the backlog is bounded (`maxIntervals`): beyond it the oldest intervals are dropped, and counted.
 *
 * Its own file, not the transaction journal's: the journal holds signed billing records (OCMF) with its own schema
 * and owner, written a few times per transaction; the backlog is written every interval and emptied as it is posted,
 * and may grow by a day of readings per site during an outage. Kept apart, neither can lock, bloat or corrupt the
 * other, and the backlog can be deleted (losing only unposted telemetry) without touching what was billed.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { MupRole, TelemetryReading } from '../../domain/telemetry.js';

export interface BacklogRow extends TelemetryReading {
  id: number;
  site: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  site TEXT NOT NULL,
  role TEXT NOT NULL,
  type TEXT NOT NULL,
  start INTEGER NOT NULL,
  duration INTEGER NOT NULL,
  value INTEGER NOT NULL,
  quality INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS readings_site ON readings (site, start, id);
CREATE TABLE IF NOT EXISTS sites (site TEXT PRIMARY KEY, last_end INTEGER NOT NULL);
`;

interface Statements {
  insert: StatementSync;
  lastEnd: StatementSync;
  setLastEnd: StatementSync;
  count: StatementSync;
  intervals: StatementSync;
  cutoff: StatementSync;
  trim: StatementSync;
  oldest: StatementSync;
  remove: StatementSync;
}

export class BacklogStore {
  readonly #db: DatabaseSync;
  readonly #sql: Statements;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 2000;');
    db.exec(SCHEMA);
    this.#sql = {
      insert: db.prepare('INSERT INTO readings (site, role, type, start, duration, value, quality) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      lastEnd: db.prepare('SELECT last_end AS lastEnd FROM sites WHERE site = ?'),
      setLastEnd: db.prepare('INSERT INTO sites (site, last_end) VALUES (?, ?) ON CONFLICT (site) DO UPDATE SET last_end = max(last_end, excluded.last_end)'),
      count: db.prepare('SELECT count(*) AS n FROM readings WHERE site = ?'),
      intervals: db.prepare('SELECT count(DISTINCT start) AS n FROM readings WHERE site = ?'),
      cutoff: db.prepare('SELECT DISTINCT start FROM readings WHERE site = ? ORDER BY start DESC LIMIT 1 OFFSET ?'),
      trim: db.prepare('DELETE FROM readings WHERE site = ? AND start <= ?'),
      oldest: db.prepare('SELECT id, site, role, type, start AS startS, duration AS durationS, value, quality AS qualityFlags FROM readings WHERE site = ? ORDER BY start, id LIMIT ?'),
      remove: db.prepare('DELETE FROM readings WHERE id = ?'),
    };
  }

  static open(path: string): BacklogStore {
    mkdirSync(dirname(path), { recursive: true });
    return new BacklogStore(new DatabaseSync(path));
  }

  /** Adds a closed interval's readings and its end; drops the oldest intervals beyond `maxIntervals`. */
  add(site: string, readings: readonly TelemetryReading[], lastEndS: number, maxIntervals: number): { queued: number; dropped: number } {
    let dropped = 0;
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const r of readings) this.#sql.insert.run(site, r.role, r.type, r.startS, r.durationS, r.value, r.qualityFlags);
      this.#sql.setLastEnd.run(site, lastEndS);
      const intervals = Number((this.#sql.intervals.get(site) as { n: number }).n);
      if (intervals > maxIntervals) {
        const cut = this.#sql.cutoff.get(site, maxIntervals) as { start: number } | undefined;
        if (cut) dropped = Number(this.#sql.trim.run(site, cut.start).changes);
      }
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
    return { queued: this.count(site), dropped };
  }

  count(site: string): number {
    return Number((this.#sql.count.get(site) as { n: number }).n);
  }

  /** The end of the last interval stored for the site (0 when none). */
  lastEnd(site: string): number {
    return Number((this.#sql.lastEnd.get(site) as { lastEnd: number } | undefined)?.lastEnd ?? 0);
  }

  /** The oldest rows, in interval order. */
  oldest(site: string, limit: number): BacklogRow[] {
    return (this.#sql.oldest.all(site, limit) as unknown as (Omit<BacklogRow, 'role'> & { role: string })[]).map((row) => ({
      ...row, id: Number(row.id), role: row.role as MupRole, startS: Number(row.startS), durationS: Number(row.durationS), value: Number(row.value), qualityFlags: Number(row.qualityFlags),
    }));
  }

  remove(id: number): void {
    this.#sql.remove.run(id);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
