/**
 * The error taxonomy every adapter uses (design: "transport, HTTP status, schema, protocol"):
 *
 * - `transport`: no complete HTTP exchange: refused, reset, timed out, TLS failure. Retryable; for the meter it
 *   raises the communication fault (reference §4.3: only transport errors do).
 * - `http-status`: an exchange completed with an unexpected status. Retryable when 5xx or 429.
 * - `schema`: the body did not parse or did not match its schema.
 * - `protocol`: a well-formed answer that means failure (`running: false`, `result: 0`, PIN mismatch).
 */
export type ErrorKind = 'transport' | 'http-status' | 'schema' | 'protocol';

export class ControllerError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly status: number | undefined;

  constructor(kind: ErrorKind, message: string, options: { retryable?: boolean; status?: number; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'ControllerError';
    this.kind = kind;
    this.status = options.status;
    this.retryable = options.retryable ?? (kind === 'transport' || (kind === 'http-status' && options.status !== undefined && (options.status >= 500 || options.status === 429)));
  }
}

export const isTransportError = (error: unknown): boolean => error instanceof ControllerError && error.kind === 'transport';

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));
