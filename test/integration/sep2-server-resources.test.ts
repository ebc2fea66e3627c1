/**
 * The test server's resources below an EndDevice over mutual TLS (reference §3.11–3.14, §5.2, §5.3):
 * DeviceInformation, DERList/DER, DERCapability/DERSettings/DERStatus/DERAvailability and the CSIP-AUS
 * ConnectionPoint, in the envoy (Profile B) and seed (Profile A) profiles.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { certificateIdentity } from '../../src/adapters/sep2/identity.js';
import { SEP_NS } from '../../src/adapters/sep2/xml.js';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';
import { startSep2Server, type Sep2Server, type Sep2ServerOptions } from '../../src/simulators/sep2-server/index.js';
import { childOf, elementNames, listOf, sep2Client, xmlBody, type Sep2TestClient } from '../helpers/sep2-http.js';

const pki = createSep2Pki('sep2-server resources test');
const serverCert = pki.issueServer(['127.0.0.1']);
const deviceCert = pki.issueDevice('DEV-0001');
const DEV = certificateIdentity(deviceCert.certPem);
const CSIPAUS_12 = 'https://csipaus.org/ns';

const running: Sep2Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

/** A server with the device registered in-band; returns the client and the EndDevice href. */
async function registered(options: Sep2ServerOptions): Promise<{ server: Sep2Server; dev: Sep2TestClient; edev: string }> {
  const server = await startSep2Server({ ...options, tls: { keyPem: serverCert.keyPem, certPem: serverCert.certPem, caPem: pki.sercaPem } });
  running.push(server);
  const dev = sep2Client(server.url, { client: deviceCert, ca: pki.sercaPem });
  const body = `<EndDevice xmlns="${SEP_NS}"><lFDI>${DEV.lfdi}</lFDI><sFDI>${DEV.sfdi}</sFDI><changedTime>1700000000</changedTime></EndDevice>`;
  const res = await dev.post('/edev', body);
  expect(res.status).toBe(201);
  return { server, dev, edev: res.headers.location! };
}

const capability = (ns: string | undefined, doe = true): string =>
  `<DERCapability xmlns="${SEP_NS}"${ns ? ` xmlns:csipaus="${ns}"` : ''}><modesSupported>00500088</modesSupported>`
  + '<rtgMaxW><multiplier>0</multiplier><value>5000</value></rtgMaxW><type>83</type>'
  + `${ns && doe ? '<csipaus:doeModesSupported>0F</csipaus:doeModesSupported>' : ''}</DERCapability>`;
const settings = (omit = ''): string =>
  `<DERSettings xmlns="${SEP_NS}"><modesEnabled>00500088</modesEnabled>${omit === 'setGradW' ? '' : '<setGradW>100</setGradW>'}`
  + '<setMaxW><multiplier>0</multiplier><value>5000</value></setMaxW><updatedTime>1700000000</updatedTime></DERSettings>';
const status = (withTime = true): string =>
  `<DERStatus xmlns="${SEP_NS}"><genConnectStatus><dateTime>1700000000</dateTime><value>01</value></genConnectStatus>${withTime ? '<readingTime>1700000000</readingTime>' : ''}</DERStatus>`;
const availability = `<DERAvailability xmlns="${SEP_NS}"><readingTime>1700000000</readingTime></DERAvailability>`;
const connectionPoint = (nmi: string, element = 'connectionPointId', ns = CSIPAUS_12): string =>
  `<csipaus:ConnectionPoint xmlns="${SEP_NS}" xmlns:csipaus="${ns}"><csipaus:${element}>${nmi}</csipaus:${element}></csipaus:ConnectionPoint>`;
const deviceInformation = `<DeviceInformation xmlns="${SEP_NS}"><functionsImplemented>1000CD</functionsImplemented><lFDI>${DEV.lfdi}</lFDI>`
  + '<mfDate>0</mfDate><mfHwVer>Unknown</mfHwVer><mfID>1234567</mfID><mfModel>Acme 2000 Pro+</mfModel><mfSerNum>ACME1234</mfSerNum>'
  + '<primaryPower>0</primaryPower><secondaryPower>0</secondaryPower><swActTime>0</swActTime><swVer>NA</swVer></DeviceInformation>';

describe('envoy profile: DER resources (§3.12, §3.13, §5.3)', () => {
  it('pre-creates the DER at der/1 with its links; other ids 404; the DERList takes no POST', async () => {
    const { dev, edev } = await registered({ profile: 'envoy' });
    const derList = xmlBody(await dev.get(`${edev}/der?l=10`));
    expect(derList).toMatchObject({ '@_href': '/edev/1/der', '@_all': '1', '@_results': '1', '@_pollRate': '60' });
    const der = childOf(derList, 'DER');
    expect(der['@_href']).toBe('/edev/1/der/1');
    expect(elementNames(der)).toEqual(['AssociatedDERProgramListLink', 'DERAvailabilityLink', 'DERCapabilityLink', 'DERSettingsLink', 'DERStatusLink']);
    expect(xmlBody(await dev.get('/edev/1/der/1'))).toMatchObject({ DERCapabilityLink: { '@_href': '/edev/1/der/1/dercap' } });
    expect((await dev.get('/edev/1/der/2')).status).toBe(404);
    const post = await dev.post(`${edev}/der`, `<DER xmlns="${SEP_NS}"/>`);
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
  });

  it('stores DERCapability/DERSettings/DERStatus/DERAvailability by PUT (204) and serves them back; 404 before', async () => {
    const { server, dev } = await registered({ profile: 'envoy' });
    const der = '/edev/1/der/1';
    expect((await dev.get(`${der}/dercap`)).status).toBe(404);
    for (const [name, body] of [['dercap', capability(CSIPAUS_12)], ['derg', settings()], ['ders', status()], ['dera', availability]] as const) {
      const put = await dev.put(`${der}/${name}`, body);
      expect({ name, status: put.status, text: put.text }).toEqual({ name, status: 204, text: '' });
    }
    const stored = xmlBody(await dev.get(`${der}/dercap`));
    expect(stored).toMatchObject({ '@_href': `${der}/dercap`, modesSupported: '00500088', rtgMaxW: { multiplier: '0', value: '5000' }, type: '83', 'csipaus:doeModesSupported': '0F' });
    expect(elementNames(stored)).toEqual(['modesSupported', 'rtgMaxW', 'type', 'csipaus:doeModesSupported']);
    expect(server.handler.state.sites[0]?.ders[0]).toMatchObject({ href: der, settings: { setGradW: '100' }, status: { readingTime: '1700000000' }, availability: { readingTime: '1700000000' } });
    expect((await dev.post(`${der}/dercap`, capability(CSIPAUS_12))).status).toBe(405); // PUT, not POST (§3.13)
  });

  it('requires csipaus:doeModesSupported, setGradW and readingTime (400)', async () => {
    const { dev } = await registered({ profile: 'envoy' });
    const der = '/edev/1/der/1';
    for (const [name, body] of [['dercap', capability(CSIPAUS_12, false)], ['dercap', capability(undefined)], ['derg', settings('setGradW')], ['ders', status(false)], ['dercap', settings()]] as const) {
      const res = await dev.put(`${der}/${name}`, body);
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
      expect(xmlBody(res).reasonCode).toBe('0');
    }
    expect((await dev.put(`${der}/dercap`, capability('https://csipaus.org/ns/v1.3'))).status).toBe(400); // other CSIP-AUS version
  });

  it('has no DeviceInformation (404 for any method)', async () => {
    const { dev, edev } = await registered({ profile: 'envoy' });
    expect(xmlBody(await dev.get(edev)).DeviceInformationLink).toBeUndefined();
    expect((await dev.put(`${edev}/di`, deviceInformation)).status).toBe(404);
    expect((await dev.get(`${edev}/di`)).status).toBe(404);
  });
});

describe('ConnectionPoint (§3.14)', () => {
  it('envoy: PUT → 201 + Location, then 409 for any second PUT; GET shows the NMI', async () => {
    const { server, dev, edev } = await registered({ profile: 'envoy' });
    const cpHref = childOf(xmlBody(await dev.get(edev)), 'csipaus:ConnectionPointLink')['@_href'] as string;
    expect(xmlBody(await dev.get(cpHref))).toEqual({ 'csipaus:connectionPointId': '', '@_href': cpHref });
    const first = await dev.put(cpHref, connectionPoint('4102345678'));
    expect([first.status, first.headers.location, first.text]).toEqual([201, cpHref, '']);
    expect((await dev.put(cpHref, connectionPoint('4102345678'))).status).toBe(409);
    expect((await dev.put(cpHref, connectionPoint('4102349999'))).status).toBe(409);
    expect(xmlBody(await dev.get(cpHref))['csipaus:connectionPointId']).toBe('4102345678');
    expect(server.handler.state.sites[0]?.nmi).toBe('4102345678');
  });

  it('allows updates when configured, validates NMIs (422), reads the legacy id and refuses other documents', async () => {
    const { dev, edev } = await registered({ profile: 'envoy', allowNmiUpdates: true, nmiValidation: true });
    const cp = `${edev}/cp`;
    expect((await dev.put(cp, connectionPoint('NMI123'))).status).toBe(422);
    expect((await dev.put(cp, connectionPoint('4102345678'))).status).toBe(201);
    expect((await dev.put(cp, connectionPoint('QB01234567', 'id'))).status).toBe(201);
    expect(xmlBody(await dev.get(cp))['csipaus:connectionPointId']).toBe('QB01234567');
    const seedForm = '<ConnectionPoint><connectionPointID></connectionPointID><meterID>NMI123</meterID></ConnectionPoint>'; // §6.1
    expect((await dev.put(cp, seedForm)).status).toBe(400);
    expect((await dev.put(cp, connectionPoint('4102345678', 'connectionPointId', 'https://csipaus.org/ns/v1.3'))).status).toBe(400);
  });

  it('seed: PUT → 200 at {edev}/cp; no ConnectionPointLink on a plain 2030.5 server', async () => {
    const { dev, edev } = await registered({ profile: 'seed' });
    expect(xmlBody(await dev.get(edev))['csipaus:ConnectionPointLink']).toBeUndefined();
    const res = await dev.put(`${edev}/cp`, connectionPoint('4102345678'));
    expect([res.status, res.headers.location]).toEqual([200, undefined]);
  });
});

describe('seed profile: the seed flow (§5.2)', () => {
  it('takes DeviceInformation (200), creates DERs by POST (201 + Location) and their DERCapability (200)', async () => {
    const { server, dev, edev } = await registered({ profile: 'seed' });
    const endDevice = xmlBody(await dev.get(edev));
    expect(elementNames(endDevice)).toEqual(['DERListLink', 'deviceCategory', 'DeviceInformationLink', 'lFDI', 'sFDI', 'changedTime', 'enabled', 'FunctionSetAssignmentsListLink', 'RegistrationLink']);
    const diHref = childOf(endDevice, 'DeviceInformationLink')['@_href'] as string;
    const di = await dev.put(diHref, deviceInformation);
    expect([di.status, di.text]).toEqual([200, '']);
    expect(xmlBody(await dev.get(diHref))).toMatchObject({ mfModel: 'Acme 2000 Pro+', functionsImplemented: '1000CD' });
    expect(server.handler.state.sites[0]?.deviceInformation).toMatchObject({ mfSerNum: 'ACME1234' });

    const derListHref = childOf(endDevice, 'DERListLink')['@_href'] as string;
    expect(xmlBody(await dev.get(derListHref))).toMatchObject({ '@_all': '0', '@_results': '0' });
    const created = await dev.post(derListHref, `<DER xmlns="${SEP_NS}"/>`);
    expect([created.status, created.headers.location]).toEqual([201, `${edev}/der/1`]);
    expect((await dev.post(derListHref, `<DER xmlns="${SEP_NS}"></DER>`)).headers.location).toBe(`${edev}/der/2`);
    expect(listOf(xmlBody(await dev.get(`${derListHref}?l=5`)), 'DER')).toHaveLength(2);
    const derDoc = xmlBody(await dev.get(created.headers.location!));
    expect(elementNames(derDoc)).toEqual(['DERAvailabilityLink', 'DERCapabilityLink', 'DERSettingsLink', 'DERStatusLink']);
    const cap = await dev.put(childOf(derDoc, 'DERCapabilityLink')['@_href'] as string, capability(undefined));
    expect(cap.status).toBe(200);
    expect((await dev.put(`${edev}/der/1/dercap`, capability(CSIPAUS_12))).status).toBe(400); // CSIP-AUS element on a plain server
    expect((await dev.put(diHref, deviceInformation.replace(/<mfModel>.*<\/mfModel>/, ''))).status).toBe(400);
  });

  it('honours successStatus and derLinks switches', async () => {
    const { dev, edev } = await registered({ profile: 'seed', csipaus: '1.2', derLinks: false, successStatus: { deviceInformation: 204, derCapability: 201, connectionPoint: 201 } });
    expect((await dev.put(`${edev}/di`, deviceInformation)).status).toBe(204);
    const der = await dev.post(`${edev}/der`, `<DER xmlns="${SEP_NS}"/>`);
    expect(elementNames(xmlBody(await dev.get(der.headers.location!)))).toEqual([]);
    const cap = await dev.put(`${der.headers.location}/dercap`, capability(CSIPAUS_12));
    expect([cap.status, cap.headers.location]).toEqual([201, `${der.headers.location}/dercap`]);
    expect((await dev.put(`${der.headers.location}/dercap`, capability(CSIPAUS_12, false))).status).toBe(400);
    expect((await dev.put(`${edev}/cp`, connectionPoint('4102345678'))).status).toBe(201);
  });
});
