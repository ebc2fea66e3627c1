/**
 * The refusals of the test server, each carried as a `Sep2Refusal` and rendered as an envoy-style `Error` body
 * (reference §3.15): `reasonCode` 2 for 429, 16384 ("internal error") for 500, otherwise 0; an optional
 * `maxRetryDuration` first; and envoy's non-standard `<message>` with the detail (which makes the body invalid
 * against the schema, as envoy's own is; clients must accept it).
 */

export class Sep2Refusal extends Error {
  constructor(
    readonly status: number,
    message: string | undefined,
    readonly extra: { allow?: string[]; maxRetryDuration?: number | undefined } = {},
  ) {
    super(message ?? '');
    this.name = 'Sep2Refusal';
  }

  /** envoy error_handler.py: 429 → 2 (resource limit reached), 500 → 16384, anything else → 0 (§3.15). */
  get reasonCode(): number {
    if (this.status === 429) return 2;
    if (this.status === 500) return 16384;
    return 0;
  }
}

export const badRequest = (message: string): Sep2Refusal => new Sep2Refusal(400, message);
export const forbidden = (message: string): Sep2Refusal => new Sep2Refusal(403, message);
export const notFound = (message = 'Not found.'): Sep2Refusal => new Sep2Refusal(404, message);
export const conflict = (message: string): Sep2Refusal => new Sep2Refusal(409, message);

/** 405 always names the methods the resource has (IEEE 2030.5-2018 §5.5.2.12, reference §3.16). */
export const methodNotAllowed = (method: string, allow: string[]): Sep2Refusal =>
  new Sep2Refusal(405, `Method ${method} not allowed; allowed: ${allow.join(', ')}.`, { allow });

/** envoy treats a missing certificate header as a proxy fault (reference §2.5). */
export const MISSING_IDENTITY = 'Missing certificate PEM/fingerprint header from gateway.';
export const UNRECOGNISED_CERTIFICATE = 'Unrecognised client certificate.';
export const DUPLICATE_END_DEVICE = 'lFDI or sFDI conflict.';
