/**
 * CACTUS registration and discovery procedures (class A; docs/csip-aus-der-client.md §1), played over mutual TLS
 * against the test server: ALL-01 (out-of-band registration), ALL-02 (in-band), ALL-03-REJ (a wrong PIN: the client
 * goes quiet), ALL-04 (the PIN matches: the client carries on), ALL-05 (no RegistrationLink), ALL-09 (capabilities
 * and settings). The steps are checked on the server's request log, the criteria on what it stored, and every
 * document the client sent against the XSDs (skipped with a clear message when sep.xsd is absent).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { registerSite, RegistrationFleet } from '../../src/adapters/sep2/registration.service.js';
import { sfdiFromLfdi } from '../../src/domain/sep2-identity.js';
import { createDerClient } from '../../src/adapters/sep2/der-client.service.js';
import type { Sep2Server } from '../../src/simulators/sep2-server/index.js';
import { cactusClient, cactusServer, LFDI, policy, RATED_W, site, sleep, until, type Closer } from '../helpers/cactus-rig.js';
import { xsd } from '../helpers/xsd.js';

const closers: Closer[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** `METHOD path` of each request answered, query strings dropped. */
const trail = (s: Sep2Server, fromMs = 0): string[] => s.requests.filter((q) => q.atMs >= fromMs).map((q) => `${q.method} ${q.path.split('?')[0]}`);
const indexOf = (t: string[], step: string): number => {
  const i = t.indexOf(step);
  expect(i, `${step} in ${JSON.stringify(t)}`).toBeGreaterThanOrEqual(0);
  return i;
};

function expectValidBodies(s: Sep2Server): void {
  if (!xsd) return;
  for (const q of s.requests.filter((x) => x.body)) expect({ path: q.path, problems: xsd.validate(q.body) }).toEqual({ path: q.path, problems: [] });
}

/** The DER client on the registered EndDevice, as the controller starts it; its first FSA GET shows it carried on. */
async function carriesOn(s: Sep2Server, endDevice: string): Promise<void> {
  const client = cactusClient(closers, s);
  const { actor } = createDerClient({ client, site: site.name, lfdi: LFDI, endDeviceHref: endDevice, endDeviceRateS: 1, ratedW: RATED_W, retryMs: 300 });
  const from = Date.now();
  actor.start();
  closers.push(() => void actor.stop());
  const edev = new URL(endDevice, s.url).pathname;
  await until('GET of the FunctionSetAssignmentsList', () => trail(s, from).includes(`GET ${edev}/fsa`), 3000);
  await until('GET of the DERProgramList', () => trail(s, from).includes(`GET ${edev}/fsa/1/derp`), 3000);
}

describe('CACTUS registration and discovery (class A)', () => {
  it('ALL-01 out-of-band registration: GET /dcap, then /edev, /tm and /edev/1/der; no POST of an EndDevice', async () => {
    const s = await cactusServer(closers, { preRegistered: [{ lfdi: LFDI }], inBandRegistration: false });
    const outcome = await registerSite(site, { client: cactusClient(closers, s), policy });
    expect(outcome).toMatchObject({ ok: true, endDevice: expect.stringMatching(/\/edev\/1$/) });
    const t = trail(s);
    expect(t[0]).toBe('GET /dcap');
    for (const step of ['GET /edev', 'GET /tm', 'GET /edev/1/der']) expect(indexOf(t, step)).toBeGreaterThan(0);
    expect(t.filter((x) => x === 'POST /edev')).toHaveLength(0);
    expectValidBodies(s);
  });

  it('ALL-02 in-band registration: POST /edev and GET /tm after /dcap, then /edev/1/der; DERCapability, DERSettings and DERStatus exist; LFDI and SFDI as the rule says', async () => {
    const s = await cactusServer(closers);
    const outcome = await registerSite(site, { client: cactusClient(closers, s), policy });
    expect(outcome.ok).toBe(true);
    const t = trail(s);
    expect(t[0]).toBe('GET /dcap');
    const post = indexOf(t, 'POST /edev');
    expect(indexOf(t, 'GET /tm')).toBeGreaterThan(0);
    expect(t.indexOf('GET /edev/1/der', post)).toBeGreaterThan(post);
    const [registered] = s.handler.state.sites;
    expect(registered!.lfdi).toMatch(/^[0-9A-F]{40}$/);
    expect(registered!.sfdi).toBe(String(sfdiFromLfdi(LFDI)));
    const der = registered!.ders[0]!;
    expect(der.capability).toBeDefined();
    expect(der.settings).toBeDefined();
    expect(der.status).toBeDefined();
    expectValidBodies(s);
  });

  it('ALL-03-REJ a wrong registration PIN: GET /edev/1/rg, then the client stops talking to the server', async () => {
    const s = await cactusServer(closers, { preRegistered: [{ lfdi: LFDI }], pin: 33221 });
    const fleet = new RegistrationFleet([site], { client: cactusClient(closers, s), policy: { ...policy, maxAttempts: undefined } });
    closers.push(() => fleet.stop());
    const [outcome] = await fleet.start();
    expect(outcome).toMatchObject({ ok: false, failure: { code: 'pinMismatch' } });
    const t = trail(s);
    expect(t.at(-1)).toBe('GET /edev/1/rg');
    // "wait 120 s": the fleet (the controller's, which registers again only on a command, a config change or after
    // failedRetryMs, an hour) stays quiet. Scaled: 2 s.
    const quietFrom = Date.now();
    await sleep(2000);
    expect(trail(s, quietFrom)).toEqual([]);
    expect(t.filter((x) => x.startsWith('PUT') || x.startsWith('POST'))).toEqual([]);
  });

  it('ALL-04 the registration PIN matches: GET /edev/1/rg, then the client carries on', async () => {
    const s = await cactusServer(closers, { preRegistered: [{ lfdi: LFDI }] });
    s.handler.createProgram({ site: LFDI, primacy: 0, defaultControl: { opModImpLimW: RATED_W } });
    const outcome = await registerSite(site, { client: cactusClient(closers, s), policy });
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.failure));
    const t = trail(s);
    const rg = indexOf(t, 'GET /edev/1/rg');
    expect(t.slice(rg + 1).some((x) => x.startsWith('PUT /edev/1/der/'))).toBe(true);
    await carriesOn(s, outcome.endDevice);
  });

  it('ALL-05 no RegistrationLink: GET /dcap, /edev and /tm, POST /edev, then the FSA and DER lists; no Registration read', async () => {
    const s = await cactusServer(closers, { registrationLink: false });
    const outcome = await registerSite(site, { client: cactusClient(closers, s), policy });
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.failure));
    expect(outcome.skipped.map((k) => k.step)).toContain('verifyPin');
    const t = trail(s);
    expect(t[0]).toBe('GET /dcap');
    const list = indexOf(t, 'GET /edev');
    expect(indexOf(t, 'GET /tm')).toBeGreaterThan(0);
    expect(t.indexOf('POST /edev', list)).toBeGreaterThan(list);
    expect(t.some((x) => x.endsWith('/rg'))).toBe(false);
    expect(indexOf(t, 'GET /edev/1/der')).toBeGreaterThan(list);
    s.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: RATED_W } });
    await carriesOn(s, outcome.endDevice);
  });

  it('ALL-09 capabilities and settings: PUTs of DERStatus, DERCapability and DERSettings; doeModesSupported, rtgMaxW, setMaxW, doeModesEnabled', async () => {
    const s = await cactusServer(closers);
    const outcome = await registerSite(site, { client: cactusClient(closers, s), policy });
    expect(outcome.ok).toBe(true);
    const t = trail(s);
    const der = indexOf(t, 'GET /edev/1/der');
    for (const put of ['PUT /edev/1/der/1/ders', 'PUT /edev/1/der/1/dercap', 'PUT /edev/1/der/1/derg']) expect(t.indexOf(put, der)).toBeGreaterThan(der);
    const stored = s.handler.state.sites[0]!.ders[0]!;
    expect(JSON.stringify(stored.capability)).toMatch(/doeModesSupported/);
    expect(JSON.stringify(stored.capability)).toMatch(/rtgMaxW/);
    expect(JSON.stringify(stored.settings)).toMatch(/setMaxW/);
    expect(JSON.stringify(stored.settings)).toMatch(/doeModesEnabled/);
    expect(stored.status).toBeDefined();
    expectValidBodies(s);
  });
});
