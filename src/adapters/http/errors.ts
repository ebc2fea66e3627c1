/** Reading transport failures from fetch: "fetch failed" wraps the socket or TLS error that says what happened. */
import { errorMessage } from '../../domain/errors.js';

/** The innermost cause of a failure, prefixed with its code when the message does not already carry it. */
export function rootCause(error: unknown): string {
  let current = error as { cause?: unknown; code?: string; message?: string } | undefined;
  for (let depth = 0; depth < 5 && current?.cause instanceof Error; depth += 1) current = current.cause as typeof current;
  const code = current?.code && !current.message?.includes(current.code) ? `${current.code} ` : '';
  // Node's advice to use the system CA store is wrong here: these peers are trusted only by a configured CA or pin.
  return `${code}${current?.message ?? errorMessage(error)}`.replace(/;?\s*if the root CA is installed locally, try running Node\.js with --use-system-ca\.?/g, '');
}

/** Every `code` and message along a failure's cause chain, outermost first. */
function causeChain(error: unknown): { codes: string[]; messages: string[] } {
  const codes: string[] = [];
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth += 1) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.message === 'string') messages.push(e.message);
    current = e.cause;
  }
  return { codes, messages };
}

/**
 * What kind of transport failure this is, so that a refused connection, a timeout, a reset and a TLS trust problem
 * are told apart (and a trust problem is never retried as if it were an outage):
 * - `server-certificate`: the peer's certificate does not chain to the configured CA (or expired, or is self-signed);
 * - `client-certificate`: the peer refused our certificate (a TLS alert: unknown CA, bad or unknown certificate);
 * - `tls-handshake`: no common protocol or cipher, or TLS spoken to a plain-HTTP port;
 * - `handshake-reset`: the peer closed the connection during the handshake (how many servers refuse a client
 *   certificate, but also what a restarting server does): the caller decides how often that may repeat;
 * - `refused`, `timeout`, `reset`, `dns`, `unreachable`, `other`: the network.
 */
export type TransportClass =
  | 'server-certificate' | 'client-certificate' | 'tls-handshake' | 'handshake-reset'
  | 'refused' | 'timeout' | 'reset' | 'dns' | 'unreachable' | 'other';

const SERVER_CERTIFICATE = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'INVALID_CA', 'CERT_CHAIN_TOO_LONG', 'INVALID_PURPOSE', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const CLIENT_CERTIFICATE = /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED|CERTIFICATE_REQUIRED|DECRYPT_ERROR)/;
const TLS_HANDSHAKE = /^ERR_SSL_|^ERR_TLS_/;

export function classifyTransport(error: unknown): TransportClass {
  const { codes, messages } = causeChain(error);
  const text = messages.join(' | ');
  if (codes.some((c) => SERVER_CERTIFICATE.has(c))) return 'server-certificate';
  if (codes.some((c) => CLIENT_CERTIFICATE.test(c)) || /alert (unknown ca|bad certificate|certificate unknown|certificate required)/i.test(text)) return 'client-certificate';
  if (codes.some((c) => TLS_HANDSHAKE.test(c))) return 'tls-handshake';
  if (/before secure TLS connection was established/i.test(text)) return 'handshake-reset';
  if (codes.includes('ECONNREFUSED')) return 'refused';
  if (codes.some((c) => c === 'ETIMEDOUT' || c === 'UND_ERR_CONNECT_TIMEOUT' || c === 'UND_ERR_HEADERS_TIMEOUT' || c === 'UND_ERR_BODY_TIMEOUT' || c === 'ESOCKETTIMEDOUT')) return 'timeout';
  if (codes.some((c) => c === 'ECONNRESET' || c === 'EPIPE' || c === 'UND_ERR_SOCKET' || c === 'ECONNABORTED')) return 'reset';
  if (codes.some((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'EAI_NONAME')) return 'dns';
  if (codes.some((c) => c === 'EHOSTUNREACH' || c === 'ENETUNREACH' || c === 'EHOSTDOWN' || c === 'ENETDOWN')) return 'unreachable';
  return 'other';
}
