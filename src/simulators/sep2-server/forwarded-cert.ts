/**
 * The client identity a TLS-terminating proxy forwards, as envoy reads it (reference §2.5, envoy lfdi_auth.py):
 * the `x-forwarded-client-cert` value is tried, in order, as (1) a URL-encoded PEM certificate (newlines optional;
 * nginx's `$ssl_client_escaped_cert`), (2) a 64-hex SHA-256 fingerprint, (3) a 40-hex LFDI. Anything else gives
 * undefined, which the handler answers with 500 "Missing certificate PEM/fingerprint header from gateway.".
 */
import { X509Certificate } from 'node:crypto';
import { lfdiFromFingerprint } from '../../domain/sep2-identity.js';

export const FORWARDED_CERT_HEADER = 'x-forwarded-client-cert';

const PEM = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/;

function decode(value: string): string {
  try {
    return decodeURIComponent(value); // not `+` → space: base64 has literal `+`
  } catch {
    return value;
  }
}

/** The LFDI of the first certificate of a PEM text whose line breaks may be missing or replaced by spaces. */
function lfdiOfPem(text: string): string | undefined {
  const match = PEM.exec(text);
  if (!match) return undefined;
  const base64 = (match[1] ?? '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+=*$/.test(base64)) return undefined;
  try {
    return lfdiFromFingerprint(new X509Certificate(Buffer.from(base64, 'base64')).fingerprint256);
  } catch {
    return undefined;
  }
}

export function lfdiFromForwardedCert(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = decode(value.trim()).trim();
  if (text === '') return undefined;
  if (text.includes('-----BEGIN CERTIFICATE-----')) return lfdiOfPem(text);
  const hex = text.replace(/:/g, '');
  if (/^[0-9A-Fa-f]{64}$/.test(hex)) return lfdiFromFingerprint(hex);
  if (/^[0-9A-Fa-f]{40}$/.test(text)) return text.toUpperCase();
  return undefined;
}
