/**
 * A drift-free metronome as an XState callback actor: it sends TICK at start + k·period, so the time a reading
 * takes never shifts later ticks (the reference sleeps 1 s after each request, drifting by its latency,
 * reference §6.2 item 10). Ticks that a stalled process missed are skipped, not bunched.
 *
 * The clock is injected: the real one below, or XState's SimulatedClock in tests.
 */
import { fromCallback, type EventObject } from 'xstate';

export interface TickClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: TickClock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export function createTicker(clock: TickClock) {
  return fromCallback<EventObject, { periodMs: number }>(({ sendBack, input }) => {
    const period = input.periodMs;
    const start = clock.now();
    let k = 0;
    let handle: unknown;
    const schedule = (): void => {
      k += 1;
      const now = clock.now();
      if (start + k * period < now) k = Math.floor((now - start) / period) + 1;
      handle = clock.setTimeout(tick, start + k * period - now);
    };
    const tick = (): void => {
      sendBack({ type: 'TICK' });
      schedule();
    };
    handle = clock.setTimeout(() => {
      sendBack({ type: 'TICK' });
      schedule();
    }, 0);
    return () => clock.clearTimeout(handle);
  });
}
