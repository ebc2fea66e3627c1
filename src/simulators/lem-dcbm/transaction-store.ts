/**
 * The meter's circular transaction memory (reference §3.4, OPMAN p.72–73): 20 399 slots, the oldest overwritten
 * first; search by transaction id covers only the latest 840 records. Slot numbers start at 1.
 */

export const DEFAULT_CAPACITY = 20_399;
export const DEFAULT_SEARCH_DEPTH = 840;

export interface StoredTransaction {
  slot: number;
  paginationCounter: number;
  transactionId: string;
  evseId: string;
  clientId: string;
  tariffId: number;
  cableId: number;
  userData: string;
  /** v2 OCMF fields, present when started on a v2 route. */
  v2?: { TT: string; UV: string; UD: string; SC: number };
  identificationType: number;
  startedAtMs: number;
  stoppedAtMs?: number;
  /** Local offset in effect at the start, minutes. */
  offsetMinutes: number;
  statusAtStart: number;
  /** Status flags raised while the transaction ran (tamper, over-temperature, ...). */
  raisedFlags: number;
  /** Nominal flags lost while it ran (link, time sync): the record is no longer billable. */
  droppedFlags: number;
  errorsDuring: number;
  energyImportStartKWh: number;
  energyExportStartKWh: number;
  energyImportStopKWh?: number;
  energyExportStopKWh?: number;
  running: boolean;
  closedBy?: 'stop' | 'powerLoss';
}

export class TransactionStore {
  readonly #slots: (StoredTransaction | undefined)[];
  #count = 0; // transactions ever stored

  constructor(readonly capacity = DEFAULT_CAPACITY, readonly searchDepth = DEFAULT_SEARCH_DEPTH) {
    this.#slots = new Array<StoredTransaction | undefined>(capacity);
  }

  get size(): number {
    return Math.min(this.#count, this.capacity);
  }

  get total(): number {
    return this.#count;
  }

  /** Stores a new record in the next slot (overwriting the oldest when full) and returns it. */
  add(fields: Omit<StoredTransaction, 'slot' | 'paginationCounter'>): StoredTransaction {
    const slot = (this.#count % this.capacity) + 1;
    this.#count += 1;
    const record: StoredTransaction = { ...fields, slot, paginationCounter: this.#count };
    this.#slots[slot - 1] = record;
    return record;
  }

  latest(): StoredTransaction | undefined {
    return this.#count === 0 ? undefined : this.bySlot(((this.#count - 1) % this.capacity) + 1);
  }

  bySlot(slot: number): StoredTransaction | undefined {
    if (!Number.isInteger(slot) || slot < 1 || slot > this.capacity) return undefined;
    return this.#slots[slot - 1];
  }

  /** `-n`: n records before the latest (0 = the latest). */
  byAge(n: number): StoredTransaction | undefined {
    if (!Number.isInteger(n) || n < 0 || n >= this.size) return undefined;
    return this.bySlot(((this.#count - 1 - n) % this.capacity) + 1);
  }

  /** The latest record with this id among the last `searchDepth` records. */
  byTransactionId(id: string): StoredTransaction | undefined {
    const depth = Math.min(this.searchDepth, this.size);
    for (let n = 0; n < depth; n += 1) {
      const record = this.byAge(n);
      if (record?.transactionId === id) return record;
    }
    return undefined;
  }

  running(): StoredTransaction | undefined {
    const latest = this.latest();
    return latest?.running ? latest : undefined;
  }
}
