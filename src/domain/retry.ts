/**
 * Retry timing shared by the 2030.5 charts (pure): capped exponential back-off with jitter, the server's own hints
 * (`Retry-After` in both of its forms, the `Error` body's `maxRetryDuration`), and a per-site jitter source that is
 * deterministic (reproducible in tests) yet differs between sites, so a fleet does not retry in lock-step.
 */
import { prng } from './prng.js';

export interface BackoffPolicy {
  /** First delay. */
  baseMs: number;
  /** Cap of the exponential part. */
  maxMs: number;
  /** 0..1: each delay is drawn in [delay × (1 − jitter), delay]. */
  jitter: number;
}

/** The delay before retry `attempt` (1 = the first retry): base × 2^(attempt − 1), capped, less a random share. */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: number): number {
  const exponential = Math.min(policy.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40), policy.maxMs);
  return Math.round(exponential * (1 - policy.jitter * Math.min(Math.max(random, 0), 1)));
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date. Returns milliseconds from `nowMs`, never
 * negative; undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const text = header.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** A number in [0, 1) for a site's nth draw: the same for the same site and n, different between sites. */
export function jitterDraw(key: string, n: number): number {
  let hash = 2166136261;
  for (let i = 0; i < key.length; i += 1) hash = Math.imul(hash ^ key.charCodeAt(i), 16777619);
  return prng((hash ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0)();
}
