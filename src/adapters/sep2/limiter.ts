/**
 * Bounded concurrency for a fleet: at most `n` tasks run at once, the rest wait in order. An aggregator's DER
 * clients share one, so 1,000 sites whose polls fall due together do not open 1,000 requests at once.
 */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export function createLimiter(n: number): Limiter {
  const max = Math.max(1, Math.floor(n));
  let active = 0;
  const waiting: (() => void)[] = [];
  const next = (): void => {
    active -= 1;
    waiting.shift()?.();
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      return await task();
    } finally {
      next();
    }
  };
}
