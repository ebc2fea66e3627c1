/**
 * Builds X.509 v3 certificates with node:crypto keys and no external tools, so that the simulators can make
 * their own certificates on a charger without openssl, and tests can make fresh ones per run.
 *
 * Supports RSA (sha256WithRSAEncryption) and EC P-256 (ecdsa-with-SHA256) signers, self-signed or CA-signed.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import * as der from './der.js';

const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  certificatePolicies: '2.5.29.32',
  hardwareModuleName: '1.3.6.1.5.5.7.8.4',
} as const;

/** keyUsage bit positions (RFC 5280 §4.2.1.3). */
const KEY_USAGE_BITS = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;
export type KeyUsage = keyof typeof KEY_USAGE_BITS;

export interface DistinguishedName {
  commonName?: string;
  organizationName?: string;
}

export interface HardwareModuleName {
  /** hwType OID, e.g. 1.3.6.1.4.1.40732.{PEN}.1 for a 2030.5 device. */
  hwType: string;
  /** Serial number octets. */
  hwSerialNum: Buffer;
}

export interface CertificateSpec {
  subject: DistinguishedName;
  publicKey: KeyObject;
  /** Issuer; omit for a self-signed certificate (then `signingKey` must be the subject's own private key). */
  issuer?: { name: DistinguishedName; publicKey: KeyObject };
  signingKey: KeyObject;
  notBefore?: Date;
  notAfter?: Date;
  serial?: bigint;
  ca?: boolean;
  keyUsage?: KeyUsage[];
  subjectAltNames?: string[];
  hardwareModuleName?: HardwareModuleName;
  policies?: string[];
}

function encodeName(name: DistinguishedName): Buffer {
  const rdns: Buffer[] = [];
  if (name.organizationName) rdns.push(der.set(der.sequence(der.oid(OID.organizationName), der.utf8String(name.organizationName))));
  if (name.commonName) rdns.push(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(name.commonName))));
  return der.sequence(...rdns);
}

function keyIdentifier(publicKey: KeyObject): Buffer {
  return createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
}

function signatureAlgorithm(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'rsa') return der.sequence(der.oid(OID.sha256WithRSA), der.nullValue());
  if (key.asymmetricKeyType === 'ec') return der.sequence(der.oid(OID.ecdsaWithSHA256));
  throw new TypeError(`unsupported signing key type ${key.asymmetricKeyType}`);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

function keyUsageBits(usages: KeyUsage[]): Buffer {
  let bits = 0;
  for (const usage of usages) bits |= 0x80 >> KEY_USAGE_BITS[usage];
  // DER named-bit-list rule: trailing zero bits are dropped and counted as unused.
  let unused = 0;
  while (unused < 7 && !((bits >> unused) & 1)) unused += 1;
  return der.tlv(0x03, Buffer.from([unused, bits]));
}

function subjectAltName(names: string[], hwName?: HardwareModuleName): Buffer {
  const general: Buffer[] = [];
  for (const name of names) {
    if (isIP(name) === 4) general.push(der.implicitPrimitive(7, Buffer.from(name.split('.').map(Number))));
    else general.push(der.implicitPrimitive(2, Buffer.from(name, 'ascii')));
  }
  if (hwName) {
    // otherName [0] { type-id, [0] EXPLICIT HardwareModuleName }
    const value = der.sequence(der.oid(hwName.hwType), der.octetString(hwName.hwSerialNum));
    general.push(der.tlv(0xa0, Buffer.concat([der.oid(OID.hardwareModuleName), der.explicit(0, value)])));
  }
  return der.sequence(...general);
}

/** Builds and signs a certificate; returns it as PEM. */
export function createCertificate(spec: CertificateSpec): string {
  const notBefore = spec.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = spec.notAfter ?? new Date(notBefore.getTime() + 365 * 24 * 3600 * 1000);
  const serial = spec.serial ?? BigInt(`0x${randomBytes(8).toString('hex')}`) + 1n;
  const issuerName = spec.issuer?.name ?? spec.subject;
  const issuerKey = spec.issuer?.publicKey ?? spec.publicKey;

  const extensions: Buffer[] = [
    extension(OID.basicConstraints, true, der.sequence(...(spec.ca ? [der.boolean(true)] : []))),
    extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spec.publicKey))),
    extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, keyIdentifier(issuerKey)))),
  ];
  if (spec.keyUsage?.length) extensions.push(extension(OID.keyUsage, true, keyUsageBits(spec.keyUsage)));
  if (spec.subjectAltNames?.length || spec.hardwareModuleName) {
    extensions.push(extension(OID.subjectAltName, false, subjectAltName(spec.subjectAltNames ?? [], spec.hardwareModuleName)));
  }
  if (spec.policies?.length) {
    extensions.push(extension(OID.certificatePolicies, true, der.sequence(...spec.policies.map((p) => der.sequence(der.oid(p))))));
  }

  const algorithm = signatureAlgorithm(spec.signingKey);
  const tbs = der.sequence(
    der.explicit(0, der.integer(2n)),
    der.integer(serial),
    algorithm,
    encodeName(issuerName),
    der.sequence(der.time(notBefore), der.time(notAfter)),
    encodeName(spec.subject),
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(3, der.sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, spec.signingKey);
  const certificate = der.sequence(tbs, algorithm, der.bitString(signature));
  const base64 = certificate.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

export interface KeyAndCertificate {
  keyPem: string;
  certPem: string;
}

/**
 * A self-signed RSA certificate in the style of the LEM DCBM's own (reference §2.2): RSA-1024 by default,
 * because the device's key is 1024-bit; pass 2048 for a stronger key.
 */
export function createSelfSignedRsa(options: { commonName: string; altNames?: string[]; bits?: number; days?: number }): KeyAndCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: options.bits ?? 1024 });
  const notBefore = new Date(Date.now() - 60_000);
  const certPem = createCertificate({
    subject: { commonName: options.commonName },
    publicKey,
    signingKey: privateKey,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.days ?? 3650) * 24 * 3600 * 1000),
    keyUsage: ['digitalSignature', 'keyEncipherment'],
    subjectAltNames: options.altNames ?? [],
  });
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certPem };
}
