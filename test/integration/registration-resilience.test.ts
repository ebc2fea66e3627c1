/**
 * What a deployed charger meets in its first week (issue 12), over real sockets: a server that is down when the
 * charger boots (retried forever with capped, jittered back-off, until it is up), `Retry-After` in both forms and
 * `maxRetryDuration`, trust failures told apart from outages (and never retried as one), refused / timed-out /
 * reset connections kept apart, and configured steps a server offers no link for reported, never silently skipped.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RegistrationEmitted, RegistrationPolicy, SiteRegistration } from '../../machines/registration/registration.types.js';
import { certificateIdentity } from '../../src/adapters/sep2/identity.js';
import { registerSite } from '../../src/adapters/sep2/registration.service.js';
import { Sep2Client } from '../../src/adapters/sep2/sep2.client.js';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';
import { startSep2Server, type Sep2Server, type Sep2ServerStartOptions } from '../../src/simulators/sep2-server/index.js';

const pki = createSep2Pki();
const serverCert = pki.issueServer(['127.0.0.1']);
const device = pki.issueDevice('CHARGER-0001');
const deviceLfdi = certificateIdentity(device.certPem).lfdi;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function sepServer(options: Partial<Sep2ServerStartOptions> = {}): Promise<Sep2Server> {
  const s = await startSep2Server({ profile: 'envoy', tls: { keyPem: serverCert.keyPem, certPem: serverCert.certPem, caPem: pki.sercaPem }, ...options });
  closers.push(() => s.close());
  return s;
}

function client(baseUrl: string, options: { identity?: { chainPem: string; keyPem: string }; tls?: boolean; timeoutMs?: number; now?: () => number } = {}): Sep2Client {
  const identity = options.identity ?? device;
  const c = new Sep2Client({
    baseUrl, timeoutMs: options.timeoutMs ?? 3000, ...(options.now ? { now: options.now } : {}),
    ...(options.tls === false ? {} : { tls: { certPem: identity.chainPem, keyPem: identity.keyPem, caPem: pki.sercaPem } }),
  });
  closers.push(() => c.close());
  return c;
}

const policy = (change: Partial<RegistrationPolicy> = {}): RegistrationPolicy => ({
  dcapPath: '/dcap', pageSize: 10, maxPages: 100, inBandRegistration: true, csipaus: 'auto', createDer: true, legacyPathFallback: false,
  maxAttempts: undefined, retryBaseMs: 20, retryMaxMs: 80, retryJitter: 0.5, outOfBandPollMs: 60_000, ...change,
});

const site = (change: Partial<SiteRegistration> = {}): SiteRegistration => ({
  name: 'charger', lfdi: deviceLfdi, deviceCategory: 0x020000, nmi: '4103861111',
  derCapability: { modesSupported: 0x00500088, rtgMaxW: 150_000, type: 82, doeModesSupported: 0x0f },
  ...change,
});

/** A raw loopback HTTP server with a handler per request; records when each request arrived. */
async function rawServer(handle: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<{ url: string; arrivals: { at: number; method: string; path: string }[] }> {
  const arrivals: { at: number; method: string; path: string }[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    arrivals.push({ at: performance.now(), method: req.method ?? '', path: req.url ?? '' });
    req.resume();
    req.on('end', () => handle(req, res, arrivals.length));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals };
}

const XML = { 'Content-Type': 'application/sep+xml' };
const DCAP = '<DeviceCapability xmlns="urn:ieee:std:2030.5:ns" href="/dcap"><EndDeviceListLink href="/edev" all="0"/></DeviceCapability>';

/** A port nothing listens on (taken and released). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('a server that is down when the charger boots', () => {
  it('is retried forever with capped, jittered back-off, and registration completes once it is up', async () => {
    const port = await freePort();
    const events: RegistrationEmitted[] = [];
    let started: Promise<Sep2Server> | undefined;
    const outcome = registerSite(site(), {
      client: client(`https://127.0.0.1:${port}`), policy: policy(),
      onEvent: (e) => {
        events.push(e);
        // Far past the old limit of 5 attempts, the server comes up on the port the charger keeps trying.
        if (e.type === 'retrying' && e.attempt === 12 && !started) started = sepServer({ port });
      },
    });
    const result = await outcome;
    expect(result.ok).toBe(true);
    const server = await started!;
    expect(server.requests.map((r) => `${r.method} ${r.path} ${r.status}`).slice(0, 2)).toEqual(['GET /dcap 200', 'GET /tm 200']);
    expect(server.handler.state.sites.map((x) => x.lfdi.toUpperCase())).toEqual([deviceLfdi]);
    const retries = events.filter((e): e is Extract<RegistrationEmitted, { type: 'retrying' }> => e.type === 'retrying');
    expect(retries.length).toBeGreaterThanOrEqual(12);
    expect(retries.map((e) => e.attempt).slice(0, 12)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const e of retries) {
      const full = Math.min(20 * 2 ** (e.attempt - 1), 80);
      expect(e.delayMs).toBeLessThanOrEqual(full);
      expect(e.delayMs).toBeGreaterThanOrEqual(full / 2);
      expect(e.error).toMatchObject({ kind: 'transport', reason: 'refused' });
      expect(e.reason).toMatch(/connection refused by 127\.0\.0\.1:\d+ .*registration\.server\.url/);
    }
    // Jitter: the capped delays are not all the same.
    expect(new Set(retries.slice(3).map((e) => e.delayMs)).size).toBeGreaterThan(1);
    expect(events.some((e) => e.type === 'failed')).toBe(false);
  });

  it('the one-shot register policy still gives up after maxAttempts, as unreachable with the cause', async () => {
    const port = await freePort();
    const outcome = await registerSite(site(), { client: client(`https://127.0.0.1:${port}`), policy: policy({ maxAttempts: 3 }) });
    expect(outcome).toMatchObject({ ok: false, failure: { code: 'unreachable', step: 'discover', kind: 'transport', reason: 'refused' } });
  });
});

describe('the server says when to come back', () => {
  it('waits the Retry-After delta-seconds of a 503, then the Retry-After HTTP-date of a 429, capped', async () => {
    // The client's clock: an HTTP-date 60 s ahead of it, capped by retryAfterMaxMs to 1.2 s.
    const clock = Date.parse('2026-12-01T10:00:00Z');
    const raw = await rawServer((_req, res, n) => {
      if (n === 1) res.writeHead(503, { ...XML, 'Retry-After': '1' }).end();
      else if (n === 2) res.writeHead(429, { ...XML, 'Retry-After': new Date(clock + 60_000).toUTCString() }).end();
      else res.writeHead(200, XML).end(DCAP);
    });
    const events: RegistrationEmitted[] = [];
    await registerSite(site(), { client: client(raw.url, { tls: false, now: () => clock }), policy: policy({ retryAfterMaxMs: 1200, maxAttempts: 4 }), onEvent: (e) => events.push(e) });
    const delays = events.flatMap((e) => (e.type === 'retrying' ? [e.delayMs] : []));
    expect(delays.slice(0, 2)).toEqual([1000, 1200]);
    const [a, b, c] = raw.arrivals.map((x) => x.at);
    // The old client retried after 0.21 s and 0.40 s.
    expect(b! - a!).toBeGreaterThanOrEqual(990);
    expect(c! - b!).toBeGreaterThanOrEqual(1190);
  });

  it('honours maxRetryDuration of an Error body when there is no Retry-After', async () => {
    const raw = await rawServer((_req, res, n) => {
      if (n === 1) res.writeHead(503, XML).end('<Error xmlns="urn:ieee:std:2030.5:ns"><maxRetryDuration>1</maxRetryDuration><reasonCode>0</reasonCode></Error>');
      else res.writeHead(200, XML).end(DCAP);
    });
    const events: RegistrationEmitted[] = [];
    await registerSite(site(), { client: client(raw.url, { tls: false }), policy: policy({ maxAttempts: 3 }), onEvent: (e) => events.push(e) });
    expect(events.find((e) => e.type === 'retrying')).toMatchObject({ delayMs: 1000, step: 'discover' });
    expect(raw.arrivals[1]!.at - raw.arrivals[0]!.at).toBeGreaterThanOrEqual(990);
  });
});

describe('trust failures are not outages', () => {
  it('a client certificate the server does not trust fails as untrusted, naming registration.tls.certificate', async () => {
    const s = await sepServer();
    const stranger = createSep2Pki('stranger').issueDevice('ROGUE-1');
    const outcome = await registerSite(site(), { client: client(s.url, { identity: stranger }), policy: policy() });
    expect(outcome).toMatchObject({ ok: false, failure: { code: 'untrusted', step: 'discover' } });
    expect(outcome.ok ? '' : outcome.failure.message).toMatch(/registration\.tls\.certificate/);
    expect(s.requests).toHaveLength(0);
  });

  it('TLS spoken to a plain-HTTP port fails as untrusted, naming registration.server.url', async () => {
    const raw = await rawServer((_req, res) => res.writeHead(200, XML).end(DCAP));
    const outcome = await registerSite(site(), { client: client(raw.url.replace('http:', 'https:')), policy: policy() });
    expect(outcome).toMatchObject({ ok: false, failure: { code: 'untrusted', kind: 'trust' } });
    expect(outcome.ok ? '' : outcome.failure.message).toMatch(/registration\.server\.url/);
  });
});

describe('network failures keep their cause', () => {
  it('tells a timeout from a reset from a refusal, in the kind and in the message', async () => {
    const hang = await rawServer(() => undefined);
    const reset = await rawServer((req) => req.socket.destroy());
    const refused = `http://127.0.0.1:${await freePort()}`;
    const failure = async (url: string) => {
      const outcome = await registerSite(site(), { client: client(url, { tls: false, timeoutMs: 300 }), policy: policy({ maxAttempts: 1 }) });
      return outcome.ok ? undefined : outcome.failure;
    };
    expect(await failure(hang.url)).toMatchObject({ code: 'unreachable', reason: 'timeout', message: expect.stringMatching(/timed out after 300 ms/) });
    expect(await failure(reset.url)).toMatchObject({ code: 'unreachable', reason: 'reset', message: expect.stringMatching(/reset/) });
    expect(await failure(refused)).toMatchObject({ code: 'unreachable', reason: 'refused', message: expect.stringMatching(/connection refused/) });
  });
});

describe('configured steps the server offers no link for', () => {
  it('are reported as skipped with a reason (Energy Queensland documents link neither DeviceInformation nor a ConnectionPoint)', async () => {
    const EDEV = '<EndDevice xmlns="urn:ieee:std:2030.5:ns" xmlns:ns2="https://csipaus.org/ns" href="/edev/_EQ1"><sFDI>1</sFDI><lFDI>' + deviceLfdi + '</lFDI></EndDevice>';
    const raw = await rawServer((req, res) => {
      const path = req.url ?? '';
      if (path.startsWith('/dcap')) res.writeHead(200, XML).end('<DeviceCapability xmlns="urn:ieee:std:2030.5:ns" xmlns:ns2="https://csipaus.org/ns" href="/dcap"><EndDeviceListLink href="/edev" all="1"/></DeviceCapability>');
      else if (path.startsWith('/edev?')) res.writeHead(200, XML).end(`<EndDeviceList xmlns="urn:ieee:std:2030.5:ns" all="1" results="1">${EDEV.replace(' xmlns="urn:ieee:std:2030.5:ns" xmlns:ns2="https://csipaus.org/ns"', '')}</EndDeviceList>`);
      else if (path === '/edev/_EQ1') res.writeHead(200, XML).end(EDEV);
      else res.writeHead(404).end();
    });
    const events: RegistrationEmitted[] = [];
    const outcome = await registerSite(site({
      pin: 111115,
      deviceInformation: { lfdi: deviceLfdi, functionsImplemented: 0x1000cd, mfDate: 0, mfHwVer: 'A', mfID: 1, mfModel: 'M', mfSerNum: 'S', primaryPower: 1, secondaryPower: 0, swActTime: 0, swVer: '1' },
    }), { client: client(raw.url, { tls: false }), policy: policy(), onEvent: (e) => events.push(e) });
    expect(outcome.ok).toBe(true);
    const steps = outcome.ok ? outcome.skipped.map((k) => k.step) : [];
    expect(steps).toEqual(['verifyPin', 'putDeviceInformation', 'der', 'putConnectionPoint']);
    expect(outcome.ok && outcome.skipped.find((k) => k.step === 'putConnectionPoint')?.reason).toMatch(/NMI is configured.*ConnectionPointLink.*not sent/);
    expect(events.filter((e) => e.type === 'skipped').map((e) => e.type === 'skipped' && e.step)).toEqual(steps);
    // Nothing was written to the server, and nothing claimed otherwise.
    expect(raw.arrivals.filter((a) => a.method !== 'GET')).toEqual([]);
  });
});
