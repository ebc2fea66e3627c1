/**
 * The simulator's clock: host time plus a warp that tests and the admin API can advance, so that a 48 h
 * time-sync expiry or a long transaction can be reached without waiting. Each simulator owns one.
 */
export class SimClock {
  #warpMs = 0;
  constructor(private readonly base: () => number = Date.now) {}

  now(): number {
    return this.base() + this.#warpMs;
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('the clock only moves forward');
    this.#warpMs += ms;
  }
}
