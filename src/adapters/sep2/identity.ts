/**
 * The client's identity from its certificate chain (reference §2.4): the LFDI hashes the DER of the first
 * certificate of the PEM chain (not the PEM text), and the SFDI follows from the LFDI.
 */
import { X509Certificate } from 'node:crypto';
import { lfdiFromFingerprint, sfdiFromLfdi } from '../../domain/sep2-identity.js';

const END = '-----END CERTIFICATE-----';

export function firstCertificate(chainPem: string): string {
  const end = chainPem.indexOf(END);
  if (end < 0) throw new Error('no PEM certificate found (missing -----END CERTIFICATE-----)');
  return chainPem.slice(0, end + END.length);
}

export function certificateIdentity(chainPem: string): { lfdi: string; sfdi: string } {
  const cert = new X509Certificate(firstCertificate(chainPem));
  const lfdi = lfdiFromFingerprint(cert.fingerprint256);
  return { lfdi, sfdi: sfdiFromLfdi(lfdi) };
}
