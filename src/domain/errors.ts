/**
 * The error taxonomy every adapter uses (design: "transport, HTTP status, schema, protocol"):
 *
 * - `transport`: no complete HTTP exchange: refused, reset, timed out, TLS failure. Retryable; for the meter it
 *   raises the communication fault (reference §4.3: only transport errors do).
 * - `http-status`: an exchange completed with an unexpected status. Retryable when 5xx or 429.
 * - `schema`: the body did not parse or did not match its schema.
 * - `protocol`: a well-formed answer that means failure (`running: false`, `result: 0`, PIN mismatch).
 * - `trust`: the TLS peers do not trust each other (a server certificate outside the configured CA, a client
 *   certificate the server refused, a pin mismatch). Never retryable: only a config change fixes it.
 *
 * A transport error carries its `reason`, so a refused connection, a timeout and a reset stay apart.
 */
export type ErrorKind = 'transport' | 'http-status' | 'schema' | 'protocol' | 'trust';

/** Why an exchange did not complete. */
export type TransportReason = 'refused' | 'timeout' | 'reset' | 'dns' | 'unreachable' | 'handshake-reset' | 'body-cut' | 'other';

export class ControllerError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly reason: TransportReason | undefined;

  constructor(kind: ErrorKind, message: string, options: { retryable?: boolean; status?: number; reason?: TransportReason; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'ControllerError';
    this.kind = kind;
    this.status = options.status;
    this.reason = options.reason;
    this.retryable = options.retryable ?? (kind === 'transport' || (kind === 'http-status' && options.status !== undefined && (options.status >= 500 || options.status === 429)));
  }
}

export const isTransportError = (error: unknown): boolean => error instanceof ControllerError && error.kind === 'transport';

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * A failure as plain data, as the statecharts carry it (in context, in events, in emitted answers): guards read
 * `kind`, `status` and `retryable`, never the message. `busy` and `not-ready` are the chart's own refusals.
 */
export interface ErrorInfo {
  kind: ErrorKind | 'busy' | 'not-ready' | 'journal' | 'other';
  status: number | undefined;
  retryable: boolean;
  message: string;
  reason?: TransportReason | undefined;
}

const isErrorInfo = (error: unknown): error is ErrorInfo =>
  typeof error === 'object' && error !== null && !(error instanceof Error) && typeof (error as ErrorInfo).kind === 'string'
  && typeof (error as ErrorInfo).message === 'string' && typeof (error as ErrorInfo).retryable === 'boolean';

/** A thrown error (or one already as data) as ErrorInfo. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (isErrorInfo(error)) return error;
  if (error instanceof ControllerError) {
    return { kind: error.kind, status: error.status, retryable: error.retryable, message: error.message, ...(error.reason !== undefined ? { reason: error.reason } : {}) };
  }
  return { kind: 'other', status: undefined, retryable: false, message: errorMessage(error) };
}
