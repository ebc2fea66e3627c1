/** A bounded record of every request the simulator received, for tests and the admin API to assert on. */

export interface LoggedRequest {
  seq: number;
  atMs: number;
  tls: boolean;
  method: string;
  /** The raw request target, e.g. `/v1/legal?transactionId=a%20b`. */
  url: string;
  path: string;
  /** Decoded query parameters. */
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A ring of the last `limit` requests: adding is O(1) however long the simulator runs. */
export class RequestLog {
  #ring: (LoggedRequest | undefined)[] = [];
  #next = 0;
  #seq = 0;

  /** Called for every request as it is recorded (the CLI logs them). */
  onRequest: ((entry: LoggedRequest) => void) | undefined;

  constructor(private readonly limit: number) {}

  add(entry: Omit<LoggedRequest, 'seq'>): LoggedRequest {
    this.#seq += 1;
    const logged = { ...entry, seq: this.#seq };
    if (this.limit > 0) {
      this.#ring[this.#next] = logged;
      this.#next = (this.#next + 1) % this.limit;
    }
    this.onRequest?.(logged);
    return logged;
  }

  /** Entries after sequence number `since` (all by default), oldest first. */
  entries(since = 0): LoggedRequest[] {
    const ordered = [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
    return ordered.filter((e): e is LoggedRequest => e !== undefined && e.seq > since);
  }

  get lastSeq(): number {
    return this.#seq;
  }

  clear(): void {
    this.#ring = [];
    this.#next = 0;
  }
}
