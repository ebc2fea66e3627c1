/** Reading transport failures from fetch: "fetch failed" wraps the socket or TLS error that says what happened. */
import { errorMessage } from '../../domain/errors.js';

/** The innermost cause of a failure, prefixed with its code when the message does not already carry it. */
export function rootCause(error: unknown): string {
  let current = error as { cause?: unknown; code?: string; message?: string } | undefined;
  for (let depth = 0; depth < 5 && current?.cause instanceof Error; depth += 1) current = current.cause as typeof current;
  const code = current?.code && !current.message?.includes(current.code) ? `${current.code} ` : '';
  return `${code}${current?.message ?? errorMessage(error)}`;
}
