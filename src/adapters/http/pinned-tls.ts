/**
 * Pinned TLS for the meter (reference §2.2): the operator's copy of the meter's self-signed certificate is the
 * only trust anchor (`ca`) and its SHA-256 fingerprint must match exactly; the host name is not checked (the
 * certificate does not name the meter's address); OpenSSL security level 1 admits the meter's 1024-bit RSA key;
 * TLS 1.2 or later. Verification is never switched off.
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { Agent } from 'undici';

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';

/**
 * Restores the newline after the BEGIN line and before the END line, which `GET /v1/certificate` leaves out; accepts
 * all three broken forms (first missing, last missing, both) and well-formed PEMs.
 */
export function fixPemNewlines(pem: string): string {
  const text = pem.trim();
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < 0 || end < start) throw new Error('not a PEM certificate: BEGIN/END CERTIFICATE lines are missing');
  const body = text.slice(start + BEGIN.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+=*$/.test(body)) throw new Error('not a PEM certificate: the body is not base64');
  return `${BEGIN}\n${body.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n${END}\n`;
}

export interface PinnedCertificate {
  pem: string;
  fingerprint256: string;
}

/** Parses and fixes the configured certificate; throws a clear error when it is not one. */
export function pinCertificate(pem: string): PinnedCertificate {
  const fixed = fixPemNewlines(pem);
  const cert = new X509Certificate(fixed);
  return { pem: fixed, fingerprint256: cert.fingerprint256 };
}

export interface MeterDispatcherOptions {
  pinned?: PinnedCertificate | undefined;
  connectTimeoutMs: number;
  localAddress?: string | undefined;
}

/** An undici dispatcher for one meter: a new connection per request, as the device expects (reference §2.1). */
export function createMeterDispatcher(options: MeterDispatcherOptions): Agent {
  const { pinned } = options;
  return new Agent({
    pipelining: 0, // no keep-alive: one connection per request
    connectTimeout: options.connectTimeoutMs,
    connect: {
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(pinned
        ? {
            ca: pinned.pem,
            rejectUnauthorized: true,
            minVersion: 'TLSv1.2' as const,
            ciphers: 'DEFAULT:@SECLEVEL=1',
            checkServerIdentity: (_host: string, cert: PeerCertificate) =>
              cert.fingerprint256 === pinned.fingerprint256
                ? undefined
                : new Error(`meter certificate fingerprint ${cert.fingerprint256} does not match the pinned ${pinned.fingerprint256}`),
          }
        : {}),
    },
  });
}
