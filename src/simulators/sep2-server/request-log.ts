/** Every request the server answered, with its answer, for tests to assert on (reference §5.1). Bounded. */

export interface RecordedRequest {
  seq: number;
  /** Server clock, epoch milliseconds. */
  atMs: number;
  method: string;
  /** The path as sent, without the query. */
  path: string;
  /** Decoded query parameters (first value of each). */
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body: string;
  /** Uppercased client LFDI, or undefined when none was presented. */
  clientLfdi: string | undefined;
  status: number;
  responseBody: string;
  location?: string;
  /**
   * The deviations from IEEE 2030.5 / CSIP-AUS the seed profile accepted in this request, each naming the rule
   * broken (seed-compat.ts); always empty in the envoy profile.
   */
  warnings: string[];
}

export class RequestLog {
  readonly entries: RecordedRequest[] = [];
  #seq = 0;

  constructor(private readonly limit: number) {}

  add(entry: Omit<RecordedRequest, 'seq'>): RecordedRequest {
    this.#seq += 1;
    const recorded: RecordedRequest = { seq: this.#seq, ...entry };
    this.entries.push(recorded);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
    return recorded;
  }
}
