/**
 * HTTPS on the meter's own port with its self-signed RSA-1024 certificate (reference §2.2, §5.1).
 */
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { createSelfSignedRsa } from '../../src/pki/certificate.js';
import { getJson, request, sendJson } from '../helpers/http.js';
import { meterSim } from '../helpers/meter-sim.js';

const errorOf = (promise: Promise<unknown>): Promise<NodeJS.ErrnoException> =>
  promise.then(() => { throw new Error('expected the request to fail'); }, (error: NodeJS.ErrnoException) => error);

describe('meter TLS', () => {
  it('serves HTTPS with a self-signed RSA-1024 certificate that a pinned client accepts', async () => {
    const sim = await meterSim({ tls: true });
    const cert = new X509Certificate(sim.certificatePem);
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(1024);
    expect(cert.verify(cert.publicKey)).toBe(true); // self-signed
    expect(sim.url()).toMatch(/^https:/);
    const status = await getJson(`${sim.url()}/v1/status`, { ca: sim.certificatePem });
    expect(status).toMatchObject({ meterId: sim.device.options.meterId });
    expect(sim.requests.entries().at(-1)?.tls).toBe(true);
  });

  it('needs OpenSSL security level 1 on the client for the 1024-bit key', async () => {
    const sim = await meterSim({ tls: true });
    const error = await new Promise<Error>((resolve) => {
      const req = https.request({ host: '127.0.0.1', port: sim.port, path: '/v1/status', ca: sim.certificatePem, checkServerIdentity: () => undefined, agent: false }, () => resolve(new Error('accepted')));
      req.on('error', resolve);
      req.end();
    });
    expect(error.message).toMatch(/too weak|key too small/i);
  });

  it('refuses plain HTTP while TLS is on, and TLS while it is off', async () => {
    const tls = await meterSim({ tls: true });
    await expect(request(`http://127.0.0.1:${tls.port}/v1/status`)).rejects.toThrow();
    const plain = await meterSim();
    await expect(request(`https://127.0.0.1:${plain.port}/v1/status`, { ca: plain.certificatePem })).rejects.toThrow();
  });

  it('switches to HTTPS on the same port after {"http":{"tls_on":true}} over HTTP, and back', async () => {
    const sim = await meterSim();
    const { certificate } = await getJson<{ certificate: string }>(`http://127.0.0.1:${sim.port}/v1/certificate`);
    const pinned = certificate.replace('-----BEGIN CERTIFICATE-----', '-----BEGIN CERTIFICATE-----\n').replace('-----END CERTIFICATE-----', '\n-----END CERTIFICATE-----\n');
    const on = await sendJson('PUT', `http://127.0.0.1:${sim.port}/v1/settings`, '{"http": {"tls_on": true}}');
    expect(on.json()).toMatchObject({ result: 1 });
    expect(on.headers.connection).toBe('close');
    await expect(request(`http://127.0.0.1:${sim.port}/v1/status`)).rejects.toThrow();
    expect((await request(`https://127.0.0.1:${sim.port}/v1/status`, { ca: pinned })).status).toBe(200);
    const off = await sendJson('PUT', `https://127.0.0.1:${sim.port}/v1/settings`, '{"http": {"tls_on": false}}', { ca: pinned });
    expect(off.json()).toMatchObject({ result: 1 });
    expect((await request(`http://127.0.0.1:${sim.port}/v1/status`)).status).toBe(200);
  });

  it('serves another certificate under the wrong-certificate fault, which a pinned client refuses', async () => {
    const sim = await meterSim({ tls: true });
    sim.faults.wrongCertificate = true;
    const error = await errorOf(request(`${sim.url()}/v1/status`, { ca: sim.certificatePem }));
    expect(error.code ?? error.message).toMatch(/SELF_SIGNED|CERT|certificate/i);
    sim.faults.wrongCertificate = false;
    expect((await request(`${sim.url()}/v1/status`, { ca: sim.certificatePem })).status).toBe(200);
  });

  it('uses a given key and certificate, and a stronger generated key on request', async () => {
    const own = createSelfSignedRsa({ commonName: 'meter', altNames: ['127.0.0.1'], bits: 2048 });
    const sim = await meterSim({ tls: true, tlsKeyPem: own.keyPem, tlsCertPem: own.certPem });
    expect(sim.certificatePem).toBe(own.certPem);
    expect((await request(`${sim.url()}/v1/status`, { ca: own.certPem })).status).toBe(200);
    const strong = await meterSim({ tls: true, tlsKeyBits: 2048 });
    expect(new X509Certificate(strong.certificatePem).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });
});
