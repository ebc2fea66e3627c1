/**
 * The IEEE 2030.5 / CSIP-AUS test server over real mutual-TLS sockets (reference §3.5–3.10, §5): discovery, the
 * EndDeviceList with envoy's paging and aggregator EndDevice, EndDevice registration rules of both profiles, the
 * Registration PIN, href prefixes and opaque ids, schema validity of every answer, and the request log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { certificateIdentity } from '../../src/adapters/sep2/identity.js';
import { parseXml, SEP_NS } from '../../src/adapters/sep2/xml.js';
import { sfdiFromLfdi } from '../../src/domain/sep2-identity.js';
import { schemaFor } from '../../src/adapters/sep2/xsd.js';
import { createSep2Pki, type IssuedCertificate } from '../../src/pki/sep2-pki.js';
import { startSep2Server, type Sep2Server, type Sep2ServerOptions } from '../../src/simulators/sep2-server/index.js';
import {
  childOf as child, elementNames as elements, listOf as list, sep2Client, SEP_MEDIA, xmlBody as doc, type Sep2TestClient,
} from '../helpers/sep2-http.js';
import { xsd, xsdMissingReason } from '../helpers/xsd.js';

const pki = createSep2Pki('sep2-server test');
const serverCert = pki.issueServer(['127.0.0.1', 'localhost']);
const aggregatorCert = pki.issueDevice('AGG-0001');
const deviceCert = pki.issueDevice('DEV-0001');
const AGG = certificateIdentity(aggregatorCert.certPem);
const DEV = certificateIdentity(deviceCert.certPem);

const running: Sep2Server[] = [];
afterEach(async () => {
  const servers = running.splice(0);
  await Promise.all(servers.map((server) => server.close()));
  for (const server of servers) {
    for (const entry of server.requests) if (entry.responseBody) expect(() => parseXml(entry.responseBody)).not.toThrow();
  }
});

async function start(options: Sep2ServerOptions): Promise<Sep2Server> {
  const server = await startSep2Server({ aggregators: [AGG.lfdi], ...options, tls: { keyPem: serverCert.keyPem, certPem: serverCert.chainPem, caPem: pki.sercaPem } });
  running.push(server);
  return server;
}
const as = (server: Sep2Server, cert: IssuedCertificate): Sep2TestClient => sep2Client(server.url, { client: cert, ca: pki.sercaPem });

/** A managed-device LFDI: unique first 9 hex digits (the SFDI sees only those, §4.6), PEN 99999 last. */
const managed = (n: number): string => `${n.toString(16).padStart(9, '0')}${'A'.repeat(23)}00099999`.toUpperCase();
function endDevice(fields: { lfdi?: string; sfdi?: string; changedTime?: number; deviceCategory?: string }): string {
  const sfdi = fields.sfdi ?? (fields.lfdi ? sfdiFromLfdi(fields.lfdi) : DEV.sfdi);
  return `<EndDevice xmlns="${SEP_NS}"><deviceCategory>${fields.deviceCategory ?? '040000'}</deviceCategory>${fields.lfdi ? `<lFDI>${fields.lfdi}</lFDI>` : ''}`
    + `<sFDI>${sfdi}</sFDI><changedTime>${fields.changedTime ?? 1_700_000_000}</changedTime><enabled>true</enabled><postRate>60</postRate></EndDevice>`;
}

describe('discovery (§3.5, §3.6)', () => {
  it('serves DeviceCapability with Time, EndDeviceList (all = visible) and MirrorUsagePoint links', async () => {
    const server = await start({ profile: 'envoy' });
    const res = await as(server, aggregatorCert).get('/dcap');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(SEP_MEDIA);
    expect(res.text).toContain(`xmlns="${SEP_NS}"`);
    expect(res.text).toContain('xmlns:csipaus="https://csipaus.org/ns"');
    const dcap = doc(res);
    expect(elements(dcap)).toEqual(['TimeLink', 'EndDeviceListLink', 'MirrorUsagePointListLink']);
    expect(dcap).toMatchObject({ '@_href': '/dcap', '@_pollRate': '60', EndDeviceListLink: { '@_href': '/edev', '@_all': '1' }, MirrorUsagePointListLink: { '@_all': '0' } });
    const device = doc(await as(server, deviceCert).get('/dcap'));
    expect(child(device, 'EndDeviceListLink')['@_all']).toBe('0');
  });

  it('serves Time in schema order', async () => {
    const server = await start({ profile: 'envoy', now: () => 1_700_000_000_500 });
    const time = doc(await as(server, deviceCert).get('/tm'));
    expect(elements(time)).toEqual(['currentTime', 'dstEndTime', 'dstOffset', 'dstStartTime', 'localTime', 'quality', 'tzOffset']);
    expect(time).toMatchObject({ currentTime: '1700000000', localTime: String(1_700_000_000 + 36_000), tzOffset: '36000' });
  });
});

describe('EndDeviceList paging (§3.7)', () => {
  it('puts the aggregator EndDevice first and pages with the default l=1, s, a and the 500 cap', async () => {
    const server = await start({ profile: 'envoy' });
    const agg = as(server, aggregatorCert);
    for (const [n, changedTime] of [[1, 1_700_000_100], [2, 1_700_000_300], [3, 1_700_000_200]] as const) {
      expect((await agg.post('/edev', endDevice({ lfdi: managed(n), changedTime }))).status).toBe(201);
    }
    const first = doc(await agg.get('/edev'));
    expect(first).toMatchObject({ '@_all': '4', '@_results': '1', '@_pollRate': '60', '@_href': '/edev' });
    expect(child(first, 'EndDevice')).toMatchObject({ '@_href': '/edev/0', lFDI: AGG.lfdi, sFDI: AGG.sfdi, deviceCategory: '00', SubscriptionListLink: { '@_href': '/edev/0/sub' } });
    expect(elements(child(first, 'EndDevice'))).toEqual(['deviceCategory', 'lFDI', 'sFDI', 'changedTime', 'enabled', 'SubscriptionListLink']);
    const rest = doc(await agg.get('/edev?s=1&l=10'));
    expect(rest).toMatchObject({ '@_all': '4', '@_results': '3' });
    expect(list(rest, 'EndDevice').map((d) => d.lFDI)).toEqual([managed(2), managed(3), managed(1)]); // changedTime desc
    expect(doc(await agg.get('/edev?l=1000'))['@_results']).toBe('4');
    expect(doc(await agg.get('/edev?l=2&l=10'))['@_results']).toBe('2'); // first value of a repeated parameter
    expect(doc(await agg.get('/edev?s=1&l=10&a=1700000200'))).toMatchObject({ '@_all': '3', '@_results': '2' });
    expect((await agg.get('/edev?l=-1')).status).toBe(400);
    expect((await agg.get('/edev?s=-1')).status).toBe(400);
    expect((await agg.get('/edev?l=abc')).status).toBe(400);
  });

  it('lets a device certificate see only its own site', async () => {
    const server = await start({ profile: 'envoy' });
    await as(server, aggregatorCert).post('/edev', endDevice({ lfdi: managed(1) }));
    const dev = as(server, deviceCert);
    expect(doc(await dev.get('/edev?l=10'))).toMatchObject({ '@_all': '0', '@_results': '0' });
    expect((await dev.post('/edev', endDevice({ lfdi: DEV.lfdi }))).status).toBe(201);
    const own = doc(await dev.get('/edev?l=10'));
    expect(own).toMatchObject({ '@_all': '1', EndDevice: { lFDI: DEV.lfdi, '@_href': '/edev/2' } });
    expect((await dev.get('/edev/1')).status).toBe(404);
    expect((await dev.get('/edev/0')).status).toBe(404);
  });
});

describe('POST EndDevice (§3.8)', () => {
  it('creates with 201, Location and an empty body; GET shows it with links in schema order', async () => {
    const server = await start({ profile: 'envoy' });
    const dev = as(server, deviceCert);
    const res = await dev.post('/edev', endDevice({ lfdi: DEV.lfdi.toLowerCase() }));
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe('/edev/1');
    expect(res.text).toBe('');
    const edev = doc(await dev.get(res.headers.location!));
    expect(elements(edev)).toEqual([
      'DERListLink', 'deviceCategory', 'lFDI', 'sFDI', 'changedTime', 'enabled', 'FunctionSetAssignmentsListLink', 'postRate',
      'RegistrationLink', 'SubscriptionListLink', 'csipaus:ConnectionPointLink',
    ]);
    expect(edev).toMatchObject({
      '@_href': '/edev/1', lFDI: DEV.lfdi.toLowerCase(), sFDI: DEV.sfdi, deviceCategory: '040000', enabled: 'true', postRate: '60',
      DERListLink: { '@_href': '/edev/1/der', '@_all': '1' }, 'csipaus:ConnectionPointLink': { '@_href': '/edev/1/cp' },
    });
    expect(server.handler.state.sites).toMatchObject([{ id: '1', lfdi: DEV.lfdi.toLowerCase(), sfdi: DEV.sfdi, deviceCategory: 0x040000, changedTime: 1_700_000_000, enabled: true, postRate: 60, owner: DEV.lfdi }]);
  });

  it('fills a missing lFDI from a device certificate and refuses LFDI or SFDI mismatches with 403', async () => {
    const server = await start({ profile: 'envoy' });
    const dev = as(server, deviceCert);
    const mismatch = await dev.post('/edev', endDevice({ lfdi: managed(7), sfdi: DEV.sfdi }));
    expect(mismatch.status).toBe(403);
    expect(doc(mismatch)).toMatchObject({ reasonCode: '0', message: 'lfdi mismatch' });
    expect(doc(await dev.post('/edev', endDevice({ lfdi: DEV.lfdi, sfdi: '167261211391' })))).toMatchObject({ message: 'sfdi mismatch' });
    expect((await dev.post('/edev', endDevice({}))).status).toBe(201);
    expect(server.handler.state.sites[0]?.lfdi).toBe(DEV.lfdi);
  });

  it('answers a duplicate with 409 on envoy and 200 + Location of the existing one on the seed profile', async () => {
    const envoy = await start({ profile: 'envoy' });
    const agg = as(envoy, aggregatorCert);
    expect((await agg.post('/edev', endDevice({ lfdi: managed(1) }))).status).toBe(201);
    const again = await agg.post('/edev', endDevice({ lfdi: managed(1).toLowerCase(), sfdi: '1' }));
    expect(again.status).toBe(409);
    expect(again.headers.location).toBeUndefined();
    expect(doc(again)).toEqual({ reasonCode: '0', message: 'lFDI or sFDI conflict.' });
    expect((await agg.post('/edev', endDevice({ lfdi: managed(2), sfdi: sfdiFromLfdi(managed(1)) }))).status).toBe(409);

    const seed = await start({ profile: 'seed' });
    const created = await as(seed, deviceCert).post('/edev', endDevice({ lfdi: DEV.lfdi }));
    const duplicate = await as(seed, deviceCert).post('/edev', endDevice({ lfdi: DEV.lfdi }));
    expect([created.status, duplicate.status]).toEqual([201, 200]);
    expect(duplicate.headers.location).toBe(created.headers.location);
    expect(seed.handler.state.sites).toHaveLength(1);
  });

  it('applies the aggregator rules and rejects malformed bodies with 400', async () => {
    const server = await start({ profile: 'envoy' });
    const agg = as(server, aggregatorCert);
    expect(doc(await agg.post('/edev', endDevice({ sfdi: '1234' })))).toMatchObject({ message: 'lfdi required for aggregator managed devices' });
    expect((await agg.post('/edev', endDevice({ lfdi: AGG.lfdi }))).status).toBe(403);
    for (const body of [
      endDevice({ lfdi: managed(1), deviceCategory: '4000000' }), // > 3FFFFFF and odd length
      endDevice({ lfdi: managed(1), deviceCategory: '04000000' }),
      endDevice({ lfdi: '0x21352135135', sfdi: '356563223726' }),
      endDevice({ lfdi: managed(1) }).replace(/<changedTime>.*<\/changedTime>/, ''),
      endDevice({ lfdi: managed(1) }).replace(/<sFDI>.*<\/sFDI>/, '<sFDI></sFDI>'),
      endDevice({ lfdi: managed(1) }).replace(` xmlns="${SEP_NS}"`, ''), // the seed's namespace-less body (§6.1)
      '<EndDevice xmlns="urn:ieee:std:2030.5:ns"><sFDI>1',
      `<DER xmlns="${SEP_NS}"/>`,
      '',
    ]) {
      const res = await agg.post('/edev', body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
    }
    expect(server.handler.state.sites).toHaveLength(0);
  });

  it('refuses in-band registration when it is off, and unknown certificates when device registration is off', async () => {
    const outOfBand = await start({ profile: 'envoy', inBandRegistration: false, preRegistered: [{ lfdi: managed(5), owner: AGG.lfdi, nmi: '4102345678' }] });
    expect((await as(outOfBand, aggregatorCert).post('/edev', endDevice({ lfdi: managed(1) }))).status).toBe(403);
    const listed = doc(await as(outOfBand, aggregatorCert).get('/edev?s=1&l=5'));
    expect(child(listed, 'EndDevice')).toMatchObject({ lFDI: managed(5), sFDI: sfdiFromLfdi(managed(5)) });
    const closed = await start({ profile: 'envoy', allowDeviceRegistration: false });
    const refused = await as(closed, deviceCert).get('/dcap');
    expect([refused.status, doc(refused).message]).toEqual([403, 'Unrecognised client certificate.']);
    expect((await as(closed, aggregatorCert).get('/dcap')).status).toBe(200);
  });

  it('keeps the aggregator EndDevice read-only (403)', async () => {
    const server = await start({ profile: 'envoy' });
    const agg = as(server, aggregatorCert);
    expect((await agg.get('/edev/0')).status).toBe(200);
    for (const [method, href] of [['PUT', '/edev/0'], ['POST', '/edev/0'], ['DELETE', '/edev/0'], ['GET', '/edev/0/rg'], ['PUT', '/edev/0/cp']]) {
      expect({ method, href, status: (await agg.send(method!, href!, endDevice({ lfdi: managed(1) }))).status }).toEqual({ method, href, status: 403 });
    }
  });
});

describe('Registration (§3.10)', () => {
  it('serves pIN = configured PIN + check digit (111115 by default) and can hide the link', async () => {
    const server = await start({ profile: 'envoy', now: () => 1_700_000_123_000 });
    const dev = as(server, deviceCert);
    const { headers } = await dev.post('/edev', endDevice({ lfdi: DEV.lfdi }));
    const rgHref = child(doc(await dev.get(headers.location!)), 'RegistrationLink')['@_href'] as string;
    const rg = doc(await dev.get(rgHref));
    expect(rg).toMatchObject({ '@_href': '/edev/1/rg', '@_pollRate': '60', dateTimeRegistered: '1700000123', pIN: '111115' });
    expect(elements(rg)).toEqual(['dateTimeRegistered', 'pIN']);

    const hidden = await start({ profile: 'envoy', registrationLink: false, pin: 33221 });
    const created = await as(hidden, deviceCert).post('/edev', endDevice({ lfdi: DEV.lfdi }));
    expect(doc(await as(hidden, deviceCert).get(created.headers.location!)).RegistrationLink).toBeUndefined();
    expect(doc(await as(hidden, deviceCert).get('/edev/1/rg')).pIN).toBe('332211');
  });
});

describe('href prefix and opaque ids (§2.5, §3.4)', () => {
  it('prefixes every href and Location and uses non-numeric ids', async () => {
    const server = await start({ profile: 'envoy', hrefPrefix: '/envoy-svc-static-36', opaqueIds: true, dcapPath: '/api/v2/dcap' });
    const dev = as(server, deviceCert);
    expect((await dev.get('/dcap')).status).toBe(404);
    const dcap = doc(await dev.get('/envoy-svc-static-36/api/v2/dcap'));
    expect(dcap).toMatchObject({ '@_href': '/envoy-svc-static-36/api/v2/dcap', TimeLink: { '@_href': '/envoy-svc-static-36/tm' } });
    const listHref = child(dcap, 'EndDeviceListLink')['@_href'] as string;
    expect(listHref).toBe('/envoy-svc-static-36/edev');
    const res = await dev.post(listHref, endDevice({ lfdi: DEV.lfdi }));
    expect(res.headers.location).toBe('/envoy-svc-static-36/edev/_EQLDEV1');
    const edev = doc(await dev.get(res.headers.location!));
    expect(edev).toMatchObject({ DERListLink: { '@_href': '/envoy-svc-static-36/edev/_EQLDEV1/der' }, RegistrationLink: { '@_href': '/envoy-svc-static-36/edev/_EQLDEV1/rg' } });
    expect((await dev.get('/edev/1')).status).toBe(404);
  });
});

describe('answers and the request log (§3.15–3.17, §5.1)', () => {
  it('answers unknown paths with 404 and wrong methods with 405 + Allow, as Error documents', async () => {
    const server = await start({ profile: 'envoy' });
    const dev = as(server, deviceCert);
    const missing = await dev.get('/nothing/here');
    expect([missing.status, missing.headers['content-type'], doc(missing).reasonCode]).toEqual([404, SEP_MEDIA, '0']);
    const wrong = await dev.send('DELETE', '/dcap');
    expect([wrong.status, wrong.headers.allow]).toEqual([405, 'GET, HEAD']);
    expect(parseXml(wrong.text).root).toBe('Error');
  });

  it('records every request with its decoded query, identity, status and Location', async () => {
    const server = await start({ profile: 'envoy' });
    const dev = as(server, deviceCert);
    await dev.get('/edev?s=0&l=5&l=7');
    await dev.post('/edev', endDevice({ lfdi: DEV.lfdi }));
    expect(server.requests.map(({ seq, method, path, query, status, location, clientLfdi }) => ({ seq, method, path, query, status, location, clientLfdi }))).toEqual([
      { seq: 1, method: 'GET', path: '/edev', query: { s: '0', l: '5' }, status: 200, location: undefined, clientLfdi: DEV.lfdi },
      { seq: 2, method: 'POST', path: '/edev', query: {}, status: 201, location: '/edev/1', clientLfdi: DEV.lfdi },
    ]);
    expect(server.requests[1]).toMatchObject({ body: endDevice({ lfdi: DEV.lfdi }), responseBody: '', headers: { 'content-type': SEP_MEDIA, accept: SEP_MEDIA } });
  });

  it.skipIf(!xsd)(`answers documents valid against the matching schema${xsdMissingReason ? ` (${xsdMissingReason})` : ''}`, async () => {
    for (const options of [{ profile: 'envoy' }, { profile: 'envoy', csipaus: '1.3' }, { profile: 'seed' }, { profile: 'seed', csipaus: '1.2' }] as const) {
      const server = await start({ ...options, preRegistered: [{ lfdi: managed(9), owner: AGG.lfdi, nmi: '4102345678' }] });
      const agg = as(server, aggregatorCert);
      const { headers } = await agg.post('/edev', endDevice({ lfdi: managed(1) }));
      for (const href of ['/dcap', '/tm', '/mup', '/edev?l=5', '/edev/0', '/edev/0/sub', headers.location!, `${headers.location}/rg`, `${headers.location}/fsa`, `${headers.location}/sub`, `${headers.location}/der`, `${headers.location}/cp`, '/edev/1/cp']) {
        await agg.get(href);
      }
      if (options.profile === 'envoy') for (const href of ['/edev/2/der/1', '/edev/2/der/1/derp']) await agg.get(href);
      for (const entry of server.requests) {
        if (!entry.responseBody || parseXml(entry.responseBody).root === 'Error') continue; // envoy's <message> is not in the schema (§3.15)
        expect({ path: entry.path, problems: xsd!.validate(entry.responseBody, schemaFor(entry.responseBody)) }).toEqual({ path: entry.path, problems: [] });
      }
    }
  });

  it.skipIf(!xsd)(`rejects schema-invalid bodies with the validator message${xsdMissingReason ? ` (${xsdMissingReason})` : ''}`, async () => {
    const server = await start({ profile: 'envoy' });
    const outOfOrder = endDevice({ lfdi: DEV.lfdi }).replace('<enabled>true</enabled><postRate>60</postRate>', '<postRate>60</postRate><enabled>true</enabled>');
    const res = await as(server, deviceCert).post('/edev', outOfOrder);
    expect(res.status).toBe(400);
    expect(doc(res).message).toMatch(/^Schema validation failed: .*enabled.*not expected/);
    expect(server.handler.state.xsdValidation).toBe(true);
  });
});
