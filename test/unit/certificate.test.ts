/** The X.509 builder: certificates that OpenSSL (through node:crypto and node:tls) accepts. */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificate, createSelfSignedRsa } from '../../src/pki/certificate.js';

describe('createCertificate', () => {
  it('makes a self-signed RSA certificate with SAN and validity', () => {
    const { certPem } = createSelfSignedRsa({ commonName: 'meter', altNames: ['127.0.0.1', 'meter.local'], days: 10 });
    const cert = new X509Certificate(certPem);
    expect(cert.subject).toBe('CN=meter');
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1, DNS:meter.local');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(10 * 24 * 3600_000);
    expect(cert.ca).toBe(false);
  });

  it('makes an EC P-256 CA chain with a never-expiring device certificate', () => {
    const root = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const device = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const rootPem = createCertificate({ subject: { commonName: 'SERCA' }, publicKey: root.publicKey, signingKey: root.privateKey, ca: true, keyUsage: ['keyCertSign', 'cRLSign'] });
    const devicePem = createCertificate({
      subject: {}, publicKey: device.publicKey, issuer: { name: { commonName: 'SERCA' }, publicKey: root.publicKey }, signingKey: root.privateKey,
      notAfter: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)), keyUsage: ['digitalSignature', 'keyAgreement'],
      hardwareModuleName: { hwType: '1.3.6.1.4.1.40732.99.1', hwSerialNum: Buffer.from('SN123') }, policies: ['1.3.6.1.4.1.40732.1.1', '1.3.6.1.4.1.40732.2.1'],
    });
    const rootCert = new X509Certificate(rootPem);
    const deviceCert = new X509Certificate(devicePem);
    expect(rootCert.ca).toBe(true);
    expect(deviceCert.checkIssued(rootCert)).toBe(true);
    expect(deviceCert.verify(rootCert.publicKey)).toBe(true);
    expect(deviceCert.subject ?? '').toBe(''); // blank subject, as CSIP-AUS servers require
    expect(deviceCert.validTo).toBe('Dec 31 23:59:59 9999 GMT');
    expect(deviceCert.subjectAltName).toContain('othername');
  });
});
