/**
 * Injected answers (reference §5.4: 429 with `maxRetryDuration`, 5xx). A fault answers the next matching requests
 * — by method and by a substring of the request path (query included) — before anything else happens, as a rate
 * limiter or proxy in front of the server would. 429 carries reasonCode 2 (§3.15); with `maxRetryDuration` the
 * Error body has that element and the response a `Retry-After` header.
 */
export interface Sep2Fault {
  status: 429 | 500 | 503;
  /** How many matching requests it answers; default 1. */
  times?: number;
  /** Seconds (UInt16) the client should wait; written as `maxRetryDuration` and `Retry-After`. */
  maxRetryDuration?: number;
  /** Only this method (any case). */
  method?: string;
  /** Only paths containing this text. */
  pathIncludes?: string;
}

export interface InjectedFault extends Sep2Fault {
  /** Matching requests still to answer. */
  remaining: number;
}

export class FaultQueue {
  readonly active: InjectedFault[] = [];

  add(fault: Sep2Fault): void {
    if (![429, 500, 503].includes(fault.status)) throw new RangeError(`fault status must be 429, 500 or 503 (got ${fault.status})`);
    const times = fault.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new RangeError('fault times must be a positive integer');
    const retry = fault.maxRetryDuration;
    if (retry !== undefined && (!Number.isInteger(retry) || retry < 0 || retry > 0xffff)) throw new RangeError('maxRetryDuration is a UInt16 number of seconds');
    this.active.push({ ...fault, remaining: times });
  }

  /** The first fault matching this request, counted as used. */
  take(method: string, path: string): InjectedFault | undefined {
    const index = this.active.findIndex((fault) =>
      (fault.method === undefined || fault.method.toUpperCase() === method) && (fault.pathIncludes === undefined || path.includes(fault.pathIncludes)));
    const fault = this.active[index];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.active.splice(index, 1);
    return fault;
  }
}
