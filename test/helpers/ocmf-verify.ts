/** Independent checks of signed meter data for tests: node:crypto verification of OCMF and /legal records. */
import { createPublicKey, verify } from 'node:crypto';
import { splitOcmf } from '../../src/domain/ocmf.js';

const P256_SPKI_PREFIX = '3059301306072A8648CE3D020106082A8648CE3D03010703420004';

export function verifyOcmf(text: string, publicKeyOcmfHex: string): boolean {
  const parts = splitOcmf(text);
  if (!parts) return false;
  const signature = JSON.parse(parts.signatureText) as { SA: string; SD: string };
  const key = createPublicKey({ key: Buffer.from(publicKeyOcmfHex, 'hex'), format: 'der', type: 'spki' });
  return verify('sha256', Buffer.from(parts.payloadText, 'utf8'), key, Buffer.from(signature.SD, 'hex'));
}

/** Verifies a /legal record: the signature covers the record without `signature` and `publicKey`. */
export function verifyLegal(record: Record<string, unknown>, publicKeyXYHex: string): boolean {
  const { signature, publicKey: _publicKey, ...signed } = record;
  const key = createPublicKey({ key: Buffer.from(P256_SPKI_PREFIX + publicKeyXYHex, 'hex'), format: 'der', type: 'spki' });
  return verify('sha256', Buffer.from(JSON.stringify(signed), 'utf8'), key, Buffer.from(String(signature), 'hex'));
}
