/**
 * The test server's transport and robustness (reference §2.2, §2.5, §3.15, §5.1, §5.4): the 2030.5 TLS profile and
 * client-certificate checks, envoy's forwarded certificate header over plain HTTP, injected 429/5xx answers,
 * body limits, garbage on the wire, and the handler used in process without sockets.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { certificateIdentity } from '../../src/adapters/sep2/identity.js';
import { SEP_NS } from '../../src/adapters/sep2/xml.js';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';
import { createSep2Handler, startSep2Server, type Sep2Server, type Sep2ServerOptions } from '../../src/simulators/sep2-server/index.js';
import { elementNames, sep2Client, sep2Request, xmlBody } from '../helpers/sep2-http.js';

const pki = createSep2Pki('sep2-server transport test');
const serverCert = pki.issueServer(['127.0.0.1']);
const deviceCert = pki.issueDevice('DEV-0001');
const DEV = certificateIdentity(deviceCert.certPem);
const foreign = createSep2Pki('another utility').issueDevice('DEV-FOREIGN');

const running: Sep2Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

async function start(options: Sep2ServerOptions, secure = true): Promise<Sep2Server> {
  const server = await startSep2Server({ ...options, ...(secure ? { tls: { keyPem: serverCert.keyPem, certPem: serverCert.certPem, caPem: pki.sercaPem } } : {}) });
  running.push(server);
  return server;
}

const endDevice = `<EndDevice xmlns="${SEP_NS}"><lFDI>${DEV.lfdi}</lFDI><sFDI>${DEV.sfdi}</sFDI><changedTime>1700000000</changedTime></EndDevice>`;

describe('mutual TLS (§2.2)', () => {
  it('negotiates TLS 1.2 with ECDHE-ECDSA-AES128-CCM8 and identifies the client by its certificate LFDI', async () => {
    const server = await start({ profile: 'envoy' });
    const socket = tls.connect({
      host: '127.0.0.1', port: server.port, key: deviceCert.keyPem, cert: deviceCert.chainPem, ca: pki.sercaPem,
      minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-CCM8:@SECLEVEL=0', checkServerIdentity: () => undefined,
    });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    expect([socket.getProtocol(), socket.getCipher().standardName]).toEqual(['TLSv1.2', 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8']);
    socket.destroy();
    expect((await sep2Client(server.url, { client: deviceCert, ca: pki.sercaPem }).get('/dcap')).status).toBe(200);
    expect(server.requests[0]?.clientLfdi).toBe(DEV.lfdi);
  });

  it('refuses, at the handshake, a certificate from another CA and a client without one', async () => {
    const server = await start({ profile: 'envoy' });
    await expect(sep2Request(`${server.url}/dcap`, { client: foreign, ca: pki.sercaPem })).rejects.toThrow();
    await expect(sep2Request(`${server.url}/dcap`, { ca: pki.sercaPem })).rejects.toThrow();
    expect(server.requests).toHaveLength(0);
  });
});

describe('x-forwarded-client-cert over plain HTTP (§2.5)', () => {
  it('reads a URL-encoded PEM (with or without newlines), a SHA-256 fingerprint or an LFDI', async () => {
    const server = await start({ profile: 'envoy' }, false);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const fingerprint = new X509Certificate(deviceCert.certPem).fingerprint256;
    const values = [
      encodeURIComponent(deviceCert.chainPem),
      encodeURIComponent(deviceCert.certPem.replace(/\n/g, '')),
      fingerprint,
      fingerprint.replace(/:/g, '').toLowerCase(),
      DEV.lfdi.toLowerCase(),
    ];
    for (const value of values) {
      const res = await sep2Client(server.url, { headers: { 'x-forwarded-client-cert': value } }).get('/dcap');
      expect({ value, status: res.status }).toEqual({ value, status: 200 });
    }
    expect(server.requests.map((entry) => entry.clientLfdi)).toEqual(values.map(() => DEV.lfdi));
  });

  it('answers 500 "Missing certificate PEM/fingerprint header from gateway." without a usable header', async () => {
    const server = await start({ profile: 'envoy' }, false);
    const cases: Record<string, string>[] = [{}, { 'x-forwarded-client-cert': '' }, { 'x-forwarded-client-cert': 'not a certificate' }, { 'x-forwarded-client-cert': '-----BEGIN CERTIFICATE-----AAAA-----END CERTIFICATE-----' }];
    for (const headers of cases) {
      const res = await sep2Client(server.url, { headers }).get('/dcap');
      expect(res.status).toBe(500);
      expect(xmlBody(res)).toEqual({ reasonCode: '16384', message: 'Missing certificate PEM/fingerprint header from gateway.' });
    }
  });
});

describe('injected faults (§3.15, §5.4)', () => {
  it('answers matching requests with 429, reasonCode 2 and maxRetryDuration, then recovers', async () => {
    const server = await start({ profile: 'envoy' });
    const dev = sep2Client(server.url, { client: deviceCert, ca: pki.sercaPem });
    server.handler.injectFault({ status: 429, maxRetryDuration: 1, times: 2, pathIncludes: '/edev' });
    expect((await dev.get('/dcap')).status).toBe(200);
    for (let i = 0; i < 2; i += 1) {
      const res = await dev.post('/edev', endDevice);
      expect([res.status, res.headers['retry-after']]).toEqual([429, '1']);
      expect(xmlBody(res)).toEqual({ maxRetryDuration: '1', reasonCode: '2' });
      expect(elementNames(xmlBody(res))).toEqual(['maxRetryDuration', 'reasonCode']);
    }
    expect((await dev.post('/edev', endDevice)).status).toBe(201);
    expect(server.handler.state.faults).toEqual([]);
  });

  it('filters by method and answers 500 with reasonCode 16384 and 503 with 0', async () => {
    const server = await start({ profile: 'envoy' });
    const dev = sep2Client(server.url, { client: deviceCert, ca: pki.sercaPem });
    server.handler.injectFault({ status: 500, method: 'post' });
    server.handler.injectFault({ status: 503 });
    expect(server.handler.state.faults).toHaveLength(2);
    const post = await dev.post('/edev', endDevice);
    expect([post.status, xmlBody(post).reasonCode]).toEqual([500, '16384']);
    const get = await dev.get('/dcap');
    expect([get.status, xmlBody(get).reasonCode]).toEqual([503, '0']);
    expect(() => server.handler.injectFault({ status: 429, times: 0 })).toThrow(RangeError);
  });
});

describe('robustness (§5.1)', () => {
  it('answers 413 to an oversized body and 400 to garbage on the wire, and keeps serving', async () => {
    const server = await start({ profile: 'envoy' }, false);
    const dev = sep2Client(server.url, { headers: { 'x-forwarded-client-cert': DEV.lfdi } });
    const big = await dev.post('/edev', `<EndDevice xmlns="${SEP_NS}">${'<x/>'.repeat(80_000)}</EndDevice>`);
    expect([big.status, xmlBody(big).reasonCode]).toEqual([413, '0']);
    const garbage = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1', () => socket.write('\u0000\u0001 NOT HTTP\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk: Buffer) => { text += chunk.toString(); });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    const head = await dev.send('HEAD', '/dcap');
    expect([head.status, head.text]).toEqual([200, '']);
    expect(server.requests.map((entry) => entry.status)).toEqual([413, 200]);
  });

  it('close() ends idle open connections', async () => {
    const server = await start({ profile: 'envoy' }, false);
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await server.close();
    await closed;
  });
});

describe('the handler in process', () => {
  it('dispatches synchronously and turns any bad input into an Error answer', () => {
    const handler = createSep2Handler({ profile: 'seed' });
    const base = { headers: {}, clientLfdi: DEV.lfdi, body: '' };
    expect(handler.dispatch({ ...base, method: 'GET', path: '/dcap' }).status).toBe(200);
    const odd = [
      { method: 'BREW', path: '/dcap' }, { method: 'GET', path: '*' }, { method: 'GET', path: '//evil/edev' },
      { method: 'POST', path: '/edev', body: '<!DOCTYPE x [<!ENTITY a "b">]><EndDevice/>' },
      { method: 'POST', path: '/edev', body: endDevice.replace('1700000000', '99999999999999999999') },
      { method: 'GET', path: '/edev?l=1e3' }, { method: 'GET', path: '/edev/%zz/der/1' },
    ];
    expect(odd.map((request) => handler.dispatch({ ...base, ...request }).status)).toEqual([405, 404, 404, 400, 400, 400, 404]);
    expect(handler.dispatch({ ...base, clientLfdi: 'nonsense', method: 'GET', path: '/dcap' }).status).toBe(500);
    expect(handler.state.requests).toHaveLength(odd.length + 2);
  });

  it('without XSD validation, accepts a structurally complete body in the wrong order, never one outside the namespace', () => {
    const handler = createSep2Handler({ profile: 'envoy', validateXsd: false });
    const outOfOrder = `<EndDevice xmlns="${SEP_NS}"><changedTime>1700000000</changedTime><sFDI>${DEV.sfdi}</sFDI></EndDevice>`;
    const res = handler.dispatch({ method: 'POST', path: '/edev', headers: {}, body: outOfOrder, clientLfdi: DEV.lfdi });
    expect([res.status, res.headers.Location]).toEqual([201, '/edev/1']);
    expect(handler.state.xsdValidation).toBe(false);
    const rootOutsideNamespace = outOfOrder.replace(`xmlns="${SEP_NS}"`, `xmlns:x="${SEP_NS}"`);
    expect(handler.dispatch({ method: 'POST', path: '/edev', headers: {}, body: rootOutsideNamespace, clientLfdi: DEV.lfdi }).status).toBe(400);
  });
});
