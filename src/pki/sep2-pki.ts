/**
 * A test PKI in the 2030.5 shape (reference §2.2–2.3): SERCA (root) → MICA (manufacturer CA) → device or
 * server certificates, all EC P-256 with SHA256withECDSA. Device certificates have an empty subject, never
 * expire (99991231235959Z), carry the HardwareModuleName and the 2030.5 policy OIDs. Made per test run or by
 * the test server at start; never for production use.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createCertificate } from './certificate.js';

export interface IssuedCertificate {
  keyPem: string;
  certPem: string;
  /** The certificate followed by its issuing CA(s), as a client presents it. */
  chainPem: string;
}

export interface Sep2Pki {
  sercaPem: string;
  micaPem: string;
  /** A device certificate issued by the MICA (serial number text goes into HardwareModuleName). */
  issueDevice(serialNumber: string, options?: { pen?: number }): IssuedCertificate;
  /** A TLS server certificate for host names / IPs, issued by the SERCA. */
  issueServer(altNames: string[]): IssuedCertificate;
}

const NEVER = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
const ec = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const pem = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();

export function createSep2Pki(name = 'charger-controller test'): Sep2Pki {
  const serca = ec();
  const sercaName = { commonName: `${name} SERCA`, organizationName: 'Test' };
  const sercaPem = createCertificate({ subject: sercaName, publicKey: serca.publicKey, signingKey: serca.privateKey, ca: true, keyUsage: ['keyCertSign', 'cRLSign'], notAfter: NEVER });
  const mica = ec();
  const micaName = { commonName: `${name} MICA`, organizationName: 'Test' };
  const micaPem = createCertificate({
    subject: micaName, publicKey: mica.publicKey, issuer: { name: sercaName, publicKey: serca.publicKey }, signingKey: serca.privateKey,
    ca: true, keyUsage: ['keyCertSign', 'cRLSign'], notAfter: NEVER,
  });
  return {
    sercaPem,
    micaPem,
    issueDevice(serialNumber, options = {}) {
      const key = ec();
      const certPem = createCertificate({
        subject: {}, publicKey: key.publicKey, issuer: { name: micaName, publicKey: mica.publicKey }, signingKey: mica.privateKey,
        notAfter: NEVER, keyUsage: ['digitalSignature', 'keyAgreement'],
        hardwareModuleName: { hwType: `1.3.6.1.4.1.40732.${options.pen ?? 99999}.1`, hwSerialNum: Buffer.from(serialNumber) },
        policies: ['1.3.6.1.4.1.40732.1.1', '1.3.6.1.4.1.40732.2.1'],
      });
      return { keyPem: pem(key.privateKey), certPem, chainPem: certPem + micaPem };
    },
    issueServer(altNames) {
      const key = ec();
      const certPem = createCertificate({
        subject: { commonName: altNames[0] ?? 'server' }, publicKey: key.publicKey, issuer: { name: sercaName, publicKey: serca.publicKey },
        signingKey: serca.privateKey, keyUsage: ['digitalSignature', 'keyAgreement'], subjectAltNames: altNames,
      });
      return { keyPem: pem(key.privateKey), certPem, chainPem: certPem };
    },
  };
}
