/**
 * The failure transitions every registration request shares: transient errors (transport, 5xx, 429) go to the
 * request's drawn `backoff` sibling (forever, unless the policy sets `maxAttempts`); trust failures (certificates,
 * handshakes) end as `untrusted`; exhausted attempts as `unreachable`, unreadable answers as `invalidResponse`, and
 * the rest with the step's own code (reference ieee2030_5-registration §4.7).
 */
import type { FailureCode } from './registration.types.js';

export const retryOr = (step: string, code: FailureCode = 'rejected') => [
  { guard: 'retryable', target: 'backoff', actions: ['recordRetry', { type: 'emitRetrying', params: { step } }] },
  { guard: 'untrusted', target: '#registration.failed', actions: { type: 'fail', params: { code: 'untrusted', step } } },
  { guard: 'transient', target: '#registration.failed', actions: { type: 'fail', params: { code: 'unreachable', step } } },
  { guard: 'isSchemaError', target: '#registration.failed', actions: { type: 'fail', params: { code: 'invalidResponse', step } } },
  { target: '#registration.failed', actions: { type: 'fail', params: { code, step } } },
] as const;

/** The waiting state beside each `request`. */
export const backoff = { after: { retryBackoff: 'request' } } as const;
