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

export class RequestLog {
  #entries: LoggedRequest[] = [];
  #seq = 0;

  /** Called for every request as it is recorded (the CLI logs them). */
  onRequest: ((entry: LoggedRequest) => void) | undefined;

  constructor(private readonly limit: number) {}

  add(entry: Omit<LoggedRequest, 'seq'>): LoggedRequest {
    this.#seq += 1;
    const logged = { ...entry, seq: this.#seq };
    this.#entries.push(logged);
    if (this.#entries.length > this.limit) this.#entries.splice(0, this.#entries.length - this.limit);
    this.onRequest?.(logged);
    return logged;
  }

  /** Entries after sequence number `since` (all by default), oldest first. */
  entries(since = 0): LoggedRequest[] {
    return this.#entries.filter((e) => e.seq > since);
  }

  get lastSeq(): number {
    return this.#seq;
  }

  clear(): void {
    this.#entries = [];
  }
}
