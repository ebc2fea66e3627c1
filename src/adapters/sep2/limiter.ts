/**
 * Bounded concurrency for a fleet: at most `max` tasks run at once, the rest wait in order. An aggregator's DER
 * clients share one for their polls, and its telemetry charts one for their requests, so 1,000 sites whose polls or
 * interval ends fall due together do not open 1,000 requests at once.
 */
export class Limiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`concurrency ${max} must be a positive integer`);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.max) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active += 1;
    try {
      return await task();
    } finally {
      this.#active -= 1;
      this.#waiting.shift()?.();
    }
  }
}
