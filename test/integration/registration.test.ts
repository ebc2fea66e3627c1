/**
 * 2030.5 registration end to end: the statechart and Sep2Client over mutual TLS against the test server in both
 * profiles. Assertions are on what the server recorded and stored; every document the client sent is validated
 * against the XSDs (skipped with a clear message when sep.xsd is absent).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RegistrationEmitted, RegistrationPolicy, SiteRegistration } from '../../machines/registration/registration.types.js';
import { certificateIdentity } from '../../src/adapters/sep2/identity.js';
import { registerSite, registerSites } from '../../src/adapters/sep2/registration.service.js';
import { Sep2Client } from '../../src/adapters/sep2/sep2.client.js';
import { sfdiFromLfdi } from '../../src/domain/sep2-identity.js';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';
import { startSep2Server, type Sep2Server, type Sep2ServerStartOptions } from '../../src/simulators/sep2-server/index.js';
import { xsd, xsdMissingReason } from '../helpers/xsd.js';

const pki = createSep2Pki();
const serverCert = pki.issueServer(['127.0.0.1']);
const device = pki.issueDevice('CHARGER-0001');
const deviceLfdi = certificateIdentity(device.certPem).lfdi;

const servers: Sep2Server[] = [];
const clients: Sep2Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(options: Partial<Sep2ServerStartOptions> & { profile: 'envoy' | 'seed' }): Promise<Sep2Server> {
  const s = await startSep2Server({ tls: { keyPem: serverCert.keyPem, certPem: serverCert.certPem, caPem: pki.sercaPem }, ...options });
  servers.push(s);
  return s;
}

function client(s: Sep2Server, identity = device, caPem = pki.sercaPem): Sep2Client {
  const c = new Sep2Client({ baseUrl: s.url, tls: { certPem: identity.chainPem, keyPem: identity.keyPem, caPem }, timeoutMs: 3000 });
  clients.push(c);
  return c;
}

const policy = (change: Partial<RegistrationPolicy> = {}): RegistrationPolicy => ({
  dcapPath: '/dcap', pageSize: 10, maxPages: 100, inBandRegistration: true, csipaus: 'auto', createDer: true, legacyPathFallback: false,
  maxAttempts: 5, retryBaseMs: 20, retryMaxMs: 200, outOfBandPollMs: 60_000, ...change,
});

const site = (change: Partial<SiteRegistration> = {}): SiteRegistration => ({
  name: 'charger', lfdi: deviceLfdi, deviceCategory: 0x020000, pin: 111115, nmi: '4103861111',
  deviceInformation: { lfdi: deviceLfdi, functionsImplemented: 0x1000cd, mfDate: 0, mfHwVer: 'A', mfID: 12345, mfModel: 'DC-150', mfSerNum: 'SN0001', primaryPower: 1, secondaryPower: 0, swActTime: 0, swVer: '1.0' },
  derCapability: { modesSupported: 0x00500088, rtgMaxW: 150_000, type: 82, doeModesSupported: 0x0f },
  derSettings: { modesEnabled: 0x00500088, setGradW: 100, setMaxW: 150_000, doeModesEnabled: 0x0f },
  derStatus: { genConnectStatus: 1 },
  ...change,
});

const trail = (s: Sep2Server): string[] => s.requests.map((r) => `${r.method} ${r.path} ${r.status}`);

function expectValidBodies(s: Sep2Server): void {
  if (!xsd) return;
  for (const r of s.requests.filter((x) => x.body)) expect({ path: r.path, problems: xsd.validate(r.body) }).toEqual({ path: r.path, problems: [] });
}

describe('registration against an envoy-style CSIP-AUS server (mTLS)', () => {
  it('registers a charger: no DeviceInformation route, DER at der/1, DER resources and the NMI', async () => {
    const s = await server({ profile: 'envoy' });
    const outcome = await registerSite(site(), { client: client(s), policy: policy() });
    expect(outcome).toMatchObject({ ok: true, deviceInformation: false });
    expect(trail(s)).toEqual([
      'GET /dcap 200', 'GET /tm 200', 'GET /edev 200', 'POST /edev 201', 'GET /edev/1 200', 'GET /edev/1/rg 200', 'GET /edev/1/der 200', 'GET /edev/1/der/1 200',
      'PUT /edev/1/der/1/dercap 204', 'PUT /edev/1/der/1/derg 204', 'PUT /edev/1/der/1/ders 204', 'PUT /edev/1/cp 201',
    ]);
    const stored = s.handler.state.sites.find((x) => x.lfdi.toUpperCase() === deviceLfdi);
    expect(stored).toMatchObject({ sfdi: sfdiFromLfdi(deviceLfdi), nmi: '4103861111' });
    expect(stored?.ders[0]?.capability).toBeDefined();
    const post = s.requests.find((r) => r.method === 'POST')!;
    expect(post.headers['content-type']).toBe('application/sep+xml');
    expect(post.headers.accept).toBe('application/sep+xml');
    expect(post.body).toContain(`<lFDI>${deviceLfdi}</lFDI>`);
    expect(s.requests.find((r) => r.path.endsWith('/dercap'))?.body).toContain('<csipaus:doeModesSupported>0F</csipaus:doeModesSupported>');
    expect(s.requests.find((r) => r.path === '/edev/1/der')?.query).toMatchObject({ s: '0', l: '10' });
  });

  it.skipIf(!xsd)(`sends only documents valid against the CSIP-AUS v1.2 and v1.3 schemas${xsdMissingReason ? ` (${xsdMissingReason})` : ''}`, async () => {
    for (const csipaus of ['1.2', '1.3'] as const) {
      const s = await server({ profile: 'envoy', csipaus });
      expect((await registerSite(site(), { client: client(s), policy: policy() })).ok).toBe(true);
      expect(s.requests.find((r) => r.path.endsWith('/dercap'))?.body).toContain(csipaus === '1.3' ? 'https://csipaus.org/ns/v1.3' : 'https://csipaus.org/ns"');
      expectValidBodies(s);
    }
  });

  it('never creates a duplicate when run again, and finds an out-of-band device by LFDI', async () => {
    const s = await server({ profile: 'envoy' });
    const c = client(s);
    expect((await registerSite(site(), { client: c, policy: policy() })).ok).toBe(true);
    expect((await registerSite(site(), { client: c, policy: policy() })).ok).toBe(true);
    expect(s.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(s.handler.state.sites).toHaveLength(1);
    const oob = await server({ profile: 'envoy', preRegistered: [{ lfdi: deviceLfdi.toLowerCase() }], inBandRegistration: false });
    expect((await registerSite(site({ nmi: undefined }), { client: client(oob), policy: policy() })).ok).toBe(true);
    expect(oob.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('stops at a PIN mismatch and sends nothing more', async () => {
    const s = await server({ profile: 'envoy', pin: 33221 });
    const outcome = await registerSite(site(), { client: client(s), policy: policy() });
    expect(outcome).toMatchObject({ ok: false, failure: { code: 'pinMismatch', step: 'verifyPin' } });
    expect(trail(s).at(-1)).toBe('GET /edev/1/rg 200');
    expect(s.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('continues without a RegistrationLink', async () => {
    const s = await server({ profile: 'envoy', registrationLink: false });
    expect((await registerSite(site(), { client: client(s), policy: policy() })).ok).toBe(true);
    expect(trail(s)).not.toContain('GET /edev/1/rg 200');
  });

  it('surfaces the 403 of an LFDI that is not the certificate\'s, with the server\'s message', async () => {
    const s = await server({ profile: 'envoy' });
    const other = 'B1857F74B5DA25E82E78BE34877221CB89D55F45';
    const outcome = await registerSite(site({ lfdi: other, deviceInformation: undefined }), { client: client(s), policy: policy() });
    expect(outcome).toMatchObject({ ok: false, failure: { code: 'rejected', step: 'createEndDevice', status: 403, reasonCode: 0, serverMessage: 'lfdi mismatch' } });
  });

  it('answers a 409 by listing once more, then fails with "conflict" when it still cannot see the device', async () => {
    const aggregator = pki.issueDevice('AGGREGATOR');
    const aggLfdi = certificateIdentity(aggregator.certPem).lfdi;
    const target = '1111111111111111111111111111111100099999';
    const s = await server({ profile: 'envoy', aggregators: [aggLfdi], preRegistered: [{ lfdi: target, owner: aggLfdi }, { lfdi: '2222222222222222222222222222222200099999', owner: aggLfdi }] });
    const capped = await registerSite(site({ lfdi: target, deviceInformation: undefined, pin: undefined }), { client: client(s, aggregator), policy: policy({ pageSize: 1, maxPages: 1 }) });
    expect(capped).toMatchObject({ ok: false, failure: { code: 'conflict', status: 409 } });
    expect(s.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    expect(s.requests.filter((r) => r.path === '/edev' && r.method === 'GET')).toHaveLength(2);
    const paged = await registerSite(site({ lfdi: target, deviceInformation: undefined, pin: undefined }), { client: client(s, aggregator), policy: policy({ pageSize: 1 }) });
    expect(paged.ok).toBe(true);
    expect(s.requests.filter((r) => r.method === 'POST')).toHaveLength(2); // found by paging with l=1, no new POST
  });

  it('retries 429 (after maxRetryDuration) and 5xx in drawn back-off states', async () => {
    const s = await server({ profile: 'envoy' });
    s.handler.injectFault({ status: 429, maxRetryDuration: 0, times: 2, pathIncludes: '/dcap' });
    s.handler.injectFault({ status: 503, times: 2, method: 'POST' });
    const events: RegistrationEmitted[] = [];
    const outcome = await registerSite(site(), { client: client(s), policy: policy({ retryJitter: 0 }), onEvent: (e) => events.push(e) });
    expect(outcome.ok).toBe(true);
    expect(trail(s).slice(0, 3)).toEqual(['GET /dcap 429', 'GET /dcap 429', 'GET /dcap 200']);
    expect(s.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([503, 503, 201]);
    const retries = events.filter((e) => e.type === 'retrying');
    expect(retries.map((e) => e.type === 'retrying' && `${e.step}:${e.delayMs}`)).toEqual(['discover:0', 'discover:0', 'createEndDevice:20', 'createEndDevice:40']);
  });

  it('gives up after maxAttempts with "unreachable"', async () => {
    const s = await server({ profile: 'envoy' });
    s.handler.injectFault({ status: 500, times: 10, pathIncludes: '/dcap' });
    const outcome = await registerSite(site(), { client: client(s), policy: policy({ maxAttempts: 3 }) });
    expect(outcome).toMatchObject({ ok: false, failure: { code: 'unreachable', status: 500, reasonCode: 16384 } });
    expect(s.requests).toHaveLength(3);
  });

  it('refuses a server whose certificate is not from the configured CA', async () => {
    const otherPki = createSep2Pki('other');
    const foreign = otherPki.issueServer(['127.0.0.1']);
    const s = await startSep2Server({ profile: 'envoy', tls: { keyPem: foreign.keyPem, certPem: foreign.certPem, caPem: pki.sercaPem } });
    servers.push(s);
    // A trust failure is not an outage: it fails at once, even with retries unbounded, and names the key to check.
    const outcome = await registerSite(site(), { client: client(s), policy: policy({ maxAttempts: undefined }) });
    expect(outcome).toMatchObject({ ok: false, failure: { code: 'untrusted', step: 'discover', kind: 'trust' } });
    expect(outcome.ok ? '' : outcome.failure.message).toMatch(/not trusted .*registration\.tls\.ca/i);
    expect(s.requests).toHaveLength(0);
  });
});

describe('registration against a server as the seed README describes it', () => {
  it('PUTs DeviceInformation, POSTs a DER, PUTs DERCapability and the ConnectionPoint at the legacy path', async () => {
    const s = await server({ profile: 'seed' });
    const outcome = await registerSite(site({ derSettings: undefined, derStatus: undefined }), { client: client(s), policy: policy({ legacyPathFallback: true }) });
    expect(outcome).toMatchObject({ ok: true, deviceInformation: true });
    expect(trail(s).filter((t) => !t.startsWith('GET'))).toEqual(['POST /edev 201', 'PUT /edev/1/di 200', 'POST /edev/1/der 201', 'PUT /edev/1/der/1/dercap 200', 'PUT /edev/1/cp 200']);
    expect(s.requests.find((r) => r.path.endsWith('/dercap'))?.body).not.toContain('csipaus');
    expectValidBodies(s);
  });

  it('follows the 200 + Location answer to a duplicate POST', async () => {
    const aggregator = pki.issueDevice('AGG-SEED');
    const aggLfdi = certificateIdentity(aggregator.certPem).lfdi;
    const target = '3333333333333333333333333333333300099999';
    const s = await server({ profile: 'seed', aggregators: [aggLfdi], preRegistered: [{ lfdi: '4444444444444444444444444444444400099999', owner: aggLfdi }, { lfdi: target, owner: aggLfdi }] });
    const outcome = await registerSite(site({ lfdi: target, deviceInformation: undefined, pin: undefined, nmi: undefined }), { client: client(s, aggregator), policy: policy({ pageSize: 1, maxPages: 1 }) });
    expect(outcome.ok).toBe(true);
    expect(s.requests.filter((r) => r.method === 'POST' && r.path === '/edev').map((r) => r.status)).toEqual([200]);
    expect(s.handler.state.sites).toHaveLength(2);
  });
});

describe('aggregator mode', () => {
  it('registers many sites with bounded concurrency, each with its own LFDI, NMI and ratings', async () => {
    const aggregator = pki.issueDevice('AGG-1');
    const aggLfdi = certificateIdentity(aggregator.certPem).lfdi;
    const s = await server({ profile: 'envoy', aggregators: [aggLfdi] });
    const sites = Array.from({ length: 12 }, (_, i) => site({
      name: `site-${i}`, lfdi: `${(0x100000000 + i * 7919).toString(16).toUpperCase().padStart(9, '0')}${'0'.repeat(23)}00099999`, nmi: `NMI${String(i).padStart(7, '0')}`,
      deviceInformation: undefined, pin: undefined, derCapability: { modesSupported: 0x00500088, rtgMaxW: 5000 + i, type: 83, doeModesSupported: 0x0f },
    }));
    let inFlight = 0;
    let peak = 0;
    const outcomes = await registerSites(sites, {
      client: client(s, aggregator), policy: policy(), concurrency: 4,
      onEvent: (e) => {
        if (e.type === 'progress' && e.step === 'discover') peak = Math.max(peak, (inFlight += 1));
        if (e.type === 'registered' || e.type === 'failed') inFlight -= 1;
      },
    });
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
    expect(s.handler.state.sites.map((x) => x.nmi).sort()).toEqual(sites.map((x) => x.nmi).sort());
    expect(new Set(s.handler.state.sites.map((x) => x.lfdi.toUpperCase()))).toEqual(new Set(sites.map((x) => x.lfdi)));
  });
});
