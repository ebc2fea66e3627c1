/**
 * The meter's P-256 signing key (reference §3.2): `publicKey` is the raw X‖Y point in hex (verifies `/legal`),
 * `publicKeyOcmf` is the same key as SubjectPublicKeyInfo DER in hex (verifies OCMF). Signatures are DER ECDSA
 * over SHA-256, in uppercase hex like the device's.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export class DeviceKeys {
  readonly publicKey: string;
  readonly publicKeyOcmf: string;
  readonly #privateKey: KeyObject;

  constructor(privateKeyPem?: string) {
    this.#privateKey = privateKeyPem
      ? createPrivateKey(privateKeyPem)
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    if (this.#privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new TypeError('the meter key must be EC P-256');
    const spki = createPublicKey(this.#privateKey).export({ type: 'spki', format: 'der' });
    this.publicKeyOcmf = spki.toString('hex').toUpperCase();
    // The uncompressed point 04‖X‖Y closes the SPKI; X‖Y is its last 64 bytes.
    this.publicKey = spki.subarray(spki.length - 64).toString('hex').toUpperCase();
  }

  sign(text: string): string {
    return sign('sha256', Buffer.from(text, 'utf8'), this.#privateKey).toString('hex').toUpperCase();
  }

  exportPrivateKeyPem(): string {
    return this.#privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }
}
