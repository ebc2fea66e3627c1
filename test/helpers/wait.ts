/** Bounded waiting for tests over real sockets: poll a condition every 20 ms until it holds or the time is up. */

/** Waits until `check` holds (at most `timeoutMs`); returns the time it did. */
export async function until(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  for (const deadline = Date.now() + timeoutMs; !check();) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now();
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
