/**
 * envoy-client 0.1.1 (bsgip/envoy-client, the seed) against the test server over real sockets (reference §6.1,
 * §5.2, §3.17): its exact requests — the compact no-whitespace bodies it puts on the wire and the README's
 * pretty-printed ones, `Content-Type: application/xml`, no `Accept` — replayed byte for byte. The seed profile
 * (Profile A, the server of envoy-client's README) completes the whole flow and logs one warning per deviation,
 * naming the rule it breaks; the envoy profile (Profile B) keeps refusing the first request.
 */
import http from 'node:http';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { parseXml, SEP_NS } from '../../src/adapters/sep2/xml.js';
import { schemaFor } from '../../src/adapters/sep2/xsd.js';
import { sfdiFromLfdi } from '../../src/domain/sep2-identity.js';
import {
  startSep2Server, type RecordedRequest, type Sep2Server, type Sep2ServerOptions, type Sep2Warning,
} from '../../src/simulators/sep2-server/index.js';
import { xsd } from '../helpers/xsd.js';

/** The aggregator certificate (envoy-client's README uses an AggregatorClient), forwarded as envoy's proxy does (§2.5). */
const AGGREGATOR = 'B1857F74B5DA25E82E78BE34877221CB89D55F45';

// ---- envoy-client 0.1.1's requests, verbatim (reference §6.1) ------------------------------------------------------

const README = {
  endDevice: `<?xml version="1.0" encoding="utf-8"?>
<EndDevice>
        <deviceCategory>262144</deviceCategory>
        <lFDI>0x21352135135</lFDI>
        <sFDI>356563223726</sFDI>
        <changedTime>0</changedTime>
        <postRate>0</postRate>
        <enabled>true</enabled>
</EndDevice>`,
  deviceInformation: `<?xml version="1.0" encoding="utf-8"?>
<DeviceInformation>
        <functionsImplemented>524288</functionsImplemented>
        <gpsLocation>
                <lat>-35.0</lat>
                <lon>144.0</lon>
        </gpsLocation>
        <lFDI>1172794507551</lFDI>
        <mfDate>0</mfDate>
        <mfHwVer>foo</mfHwVer>
        <mfID>1234567</mfID>
        <mfInfo>Acme Corp</mfInfo>
        <mfModel>Acme 2000 Pro+</mfModel>
        <mfSerNum>ACME1234</mfSerNum>
        <primaryPower>0</primaryPower>
        <secondaryPower>0</secondaryPower>
        <swActTime>0</swActTime>
        <swVer>NA</swVer>
</DeviceInformation>`,
  der: `<?xml version="1.0" encoding="utf-8"?>
<DER></DER>`,
  derCapability: `<?xml version="1.0" encoding="utf-8"?>
<DERCapability>
        <modesSupported>1</modesSupported>
        <rtgMaxW>
                <value>5000</value>
                <multiplier>0</multiplier>
        </rtgMaxW>
        <type>83</type>
</DERCapability>`,
  connectionPoint: `<?xml version="1.0" encoding="utf-8"?>
<ConnectionPoint>
        <connectionPointID></connectionPointID>
        <meterID>NMI123</meterID>
</ConnectionPoint>`,
};
type Bodies = typeof README;

/** On the wire: no declaration, no whitespace (§6.1 defect 1). */
const compact = (body: string): string => body.replace(/^<\?xml[^>]*\?>\s*/, '').replace(/>\s+</g, '><');
const WIRE: Bodies = Object.fromEntries(Object.entries(README).map(([name, body]) => [name, compact(body)])) as Bodies;

interface Reply {
  status: number;
  location: string | undefined;
  text: string;
}

/** A request exactly as envoy-client's transport sends it: `Content-Type: application/xml`, no `Accept` (§6.1 defect 2). */
function envoyClient(server: Sep2Server, method: string, path: string, body?: string, lfdi = AGGREGATOR): Promise<Reply> {
  const url = new URL(path, server.url);
  const headers: Record<string, string> = { 'x-forwarded-client-cert': lfdi };
  if (body !== undefined) Object.assign(headers, { 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(body)) });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method, headers, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const running: Sep2Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});
afterAll(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

async function start(options: Sep2ServerOptions): Promise<{ server: Sep2Server; printed: Sep2Warning[] }> {
  const printed: Sep2Warning[] = [];
  const server = await startSep2Server({ aggregators: [AGGREGATOR], onWarning: (warning) => printed.push(warning), ...options });
  running.push(server);
  return { server, printed };
}

/** The entry of the request log for the n-th request (1-based) — each request's own warnings. */
const logged = (server: Sep2Server, seq: number): RecordedRequest => server.requests.find((entry) => entry.seq === seq)!;

/** Each warning matches its pattern, one to one and in order. */
function expectWarnings(entry: RecordedRequest, patterns: (string | RegExp)[]): void {
  expect(entry.warnings, entry.warnings.join('\n')).toHaveLength(patterns.length);
  patterns.forEach((pattern, index) => {
    if (typeof pattern === 'string') expect(entry.warnings[index]).toBe(pattern);
    else expect(entry.warnings[index]).toMatch(pattern);
  });
}

const SEED = '(accepted by the seed profile)';
const HEADERS = [
  `no Accept header: IEEE 2030.5 clients send Accept: application/sep+xml ${SEED}`,
  `Content-Type application/xml: IEEE 2030.5 requires application/sep+xml ${SEED}`,
];
/** 0x21352135135 right-padded to 40 hex digits, as `register` reads that LFDI from its config. */
const LFDI = '2135213513500000000000000000000000000000';
/** 1172794507551 = hex 1111000011F, right-padded. */
const DI_LFDI = '1111000011F00000000000000000000000000000';

describe('seed profile: envoy-client 0.1.1 completes its flow (§6.1, §5.2)', () => {
  for (const [form, bodies] of [['the compact wire form', WIRE], ['the README form (declaration, pretty-printed)', README]] as const) {
    it(`accepts ${form}: EndDevice 201, DeviceInformation 200, DER 201, DERCapability 200, ConnectionPoint 200`, async () => {
      const { server, printed } = await start({ profile: 'seed' });

      const edev = await envoyClient(server, 'POST', '/edev', bodies.endDevice);
      expect([edev.status, edev.location, edev.text]).toEqual([201, '/edev/1', '']);
      // envoy-client parses the id out of Location and builds its paths (§6.1 defect 8)
      const id = Number(edev.location!.split('/').pop());
      const di = await envoyClient(server, 'PUT', `/edev/${id}/di`, bodies.deviceInformation);
      expect(di.status).toBe(200);
      const der = await envoyClient(server, 'POST', `/edev/${id}/der`, bodies.der);
      expect([der.status, der.location]).toEqual([201, '/edev/1/der/1']);
      const derId = Number(der.location!.split('/').pop());
      const cap = await envoyClient(server, 'PUT', `/edev/${id}/der/${derId}/dercap`, bodies.derCapability);
      expect(cap.status).toBe(200);
      const cp = await envoyClient(server, 'PUT', `/edev/${id}/cp`, bodies.connectionPoint);
      expect(cp.status).toBe(200);

      // what the server stored
      const [site] = server.handler.state.sites;
      expect(server.handler.state.sites).toHaveLength(1);
      expect(site).toMatchObject({
        lfdi: LFDI, sfdi: '356563223726', deviceCategory: 0x040000, changedTime: 0, postRate: 0, enabled: true, nmi: 'NMI123', owner: AGGREGATOR,
      });
      expect(site!.deviceInformation).toMatchObject({ functionsImplemented: '080000', lFDI: DI_LFDI, mfModel: 'Acme 2000 Pro+', gpsLocation: { lat: '-35.0', lon: '144.0' } });
      expect(site!.ders[0]!.capability).toEqual({ modesSupported: '01', rtgMaxW: { multiplier: '0', value: '5000' }, type: '83' });
      expect(Object.keys(site!.ders[0]!.capability!.rtgMaxW as object)).toEqual(['multiplier', 'value']);

      // one warning per deviation, each naming the rule it breaks
      expectWarnings(logged(server, 1), [
        ...HEADERS,
        `EndDevice has no namespace: IEEE 2030.5 requires urn:ieee:std:2030.5:ns ${SEED}`,
        `lFDI 0x21352135135 is written with 0x: IEEE 2030.5 LFDI (HexBinary160) is 40 hex digits without 0x; stored as ${LFDI} (right-padded to 40 hex digits) ${SEED}`,
        `deviceCategory 262144 is decimal: IEEE 2030.5 DeviceCategoryType (HexBinary32) is hexBinary; read as decimal = hex 040000 ${SEED}`,
        `EndDevice element order: postRate before enabled; IEEE 2030.5 EndDevice (sep.xsd) requires enabled before postRate ${SEED}`,
        `sFDI 356563223726 is not the SFDI of lFDI ${LFDI}: IEEE 2030.5 §6.3.5 derives ${sfdiFromLfdi(LFDI)} (its first 9 hex digits as decimal `
          + `plus a check digit); 356563223726 is what envoy-client 0.1.1's SFDI algorithm gives ${SEED}`,
      ]);
      expectWarnings(logged(server, 2), [
        ...HEADERS,
        `DeviceInformation has no namespace: IEEE 2030.5 requires urn:ieee:std:2030.5:ns ${SEED}`,
        `lFDI 1172794507551 is a decimal number: IEEE 2030.5 LFDI (HexBinary160) is 40 hex digits; read as decimal = hex 1111000011F, stored as ${DI_LFDI} (right-padded to 40 hex digits) ${SEED}`,
        `DeviceInformation lFDI ${DI_LFDI} is not the EndDevice's lFDI ${LFDI}: IEEE 2030.5 DeviceInformation.lFDI is the device's LFDI ${SEED}`,
        /^functionsImplemented 524288 is decimal: IEEE 2030\.5 HexBinary64 is hexBinary; read as decimal = hex 080000; bit 19 is Flow Reservation: .*DER Control is bit 20 \(100000\) \(accepted by the seed profile\)$/,
      ]);
      expectWarnings(logged(server, 3), [...HEADERS, `DER has no namespace: IEEE 2030.5 requires urn:ieee:std:2030.5:ns ${SEED}`]);
      expectWarnings(logged(server, 4), [
        ...HEADERS,
        `DERCapability has no namespace: IEEE 2030.5 requires urn:ieee:std:2030.5:ns ${SEED}`,
        `modesSupported 1 is decimal: IEEE 2030.5 DERControlType (HexBinary32) is hexBinary; read as decimal = hex 01 ${SEED}`,
        `DERCapability rtgMaxW element order: value before multiplier; IEEE 2030.5 ActivePower requires multiplier before value ${SEED}`,
      ]);
      expectWarnings(logged(server, 5), [
        ...HEADERS,
        `ConnectionPoint has no namespace: CSIP-AUS requires csipaus:ConnectionPoint in https://csipaus.org/ns ${SEED}`,
        `connectionPointID is not a CSIP-AUS element: CSIP-AUS ConnectionPoint carries the NMI in connectionPointId ${SEED}`,
        `meterID is not a CSIP-AUS element: CSIP-AUS ConnectionPoint carries the NMI in connectionPointId; the NMI is taken from meterID ${SEED}`,
      ]);
      // the same warnings went to the onWarning sink (stderr in the CLI), with the request they belong to
      expect(printed).toEqual(server.requests.flatMap((entry) => entry.warnings.map((message) => ({ method: entry.method, path: entry.path, message }))));
      expect(printed.filter((warning) => warning.path === '/edev/1/cp')).toHaveLength(5);
    });
  }

  it('answers standard documents for what it accepted (GET EndDevice, DeviceInformation, DERCapability, ConnectionPoint)', async () => {
    const { server } = await start({ profile: 'seed' });
    await envoyClient(server, 'POST', '/edev', WIRE.endDevice);
    await envoyClient(server, 'PUT', '/edev/1/di', WIRE.deviceInformation);
    await envoyClient(server, 'POST', '/edev/1/der', WIRE.der);
    await envoyClient(server, 'PUT', '/edev/1/der/1/dercap', WIRE.derCapability);
    await envoyClient(server, 'PUT', '/edev/1/cp', WIRE.connectionPoint);
    const answers: Record<string, string> = {};
    for (const href of ['/edev/1', '/edev/1/di', '/edev/1/der/1/dercap', '/edev/1/cp']) {
      const res = await envoyClient(server, 'GET', href);
      expect({ href, status: res.status }).toEqual({ href, status: 200 });
      answers[href] = res.text;
    }
    expect(parseXml(answers['/edev/1']!).body).toMatchObject({ deviceCategory: '040000', lFDI: LFDI, sFDI: '356563223726', changedTime: '0', enabled: 'true', postRate: '0' });
    expect(parseXml(answers['/edev/1/di']!).body).toMatchObject({ functionsImplemented: '080000', lFDI: DI_LFDI });
    expect(parseXml(answers['/edev/1/der/1/dercap']!).body).toMatchObject({ modesSupported: '01', rtgMaxW: { multiplier: '0', value: '5000' } });
    expect(parseXml(answers['/edev/1/cp']!).body).toMatchObject({ 'csipaus:connectionPointId': 'NMI123' });
    // a GET without Accept is itself a deviation, and the only one of these requests
    for (const entry of server.requests.filter((request) => request.method === 'GET')) {
      expect(entry.warnings).toEqual([`no Accept header: IEEE 2030.5 clients send Accept: application/sep+xml ${SEED}`]);
    }
    // the same site, as `register` (this project's client) names 0x21352135135 in its config: found as a duplicate
    const migrated = `<EndDevice xmlns="${SEP_NS}"><deviceCategory>040000</deviceCategory><lFDI>${LFDI}</lFDI><sFDI>${sfdiFromLfdi(LFDI)}</sFDI>`
      + '<changedTime>1700000000</changedTime><enabled>true</enabled><postRate>0</postRate></EndDevice>';
    const again = await envoyClient(server, 'POST', '/edev', migrated);
    expect([again.status, again.location]).toEqual([200, '/edev/1']);
    if (xsd) {
      for (const [href, text] of Object.entries(answers)) expect({ href, problems: xsd.validate(text, schemaFor(text)) }).toEqual({ href, problems: [] });
    }
  });

  it('still answers garbage with clear 400s: not XML, wrong root, missing or out-of-range fields', async () => {
    const { server } = await start({ profile: 'seed' });
    const cases: [string, string, string, RegExp][] = [
      ['POST', '/edev', 'deviceCategory=262144', /not well-formed XML/],
      ['POST', '/edev', '<DER></DER>', /Expected a EndDevice document, got DER/],
      ['POST', '/edev', WIRE.endDevice.replace(/<sFDI>.*<\/sFDI>/, ''), /sFDI is required/],
      ['POST', '/edev', WIRE.endDevice.replace(/<changedTime>.*<\/changedTime>/, ''), /changedTime is required/],
      ['POST', '/edev', WIRE.endDevice.replace('262144', '67108864'), /deviceCategory 67108864 exceeds 3FFFFFF/], // bit 26, read as decimal
      ['POST', '/edev', WIRE.endDevice.replace('0x21352135135', '0xZZ'), /lFDI must be hexBinary/],
      ['POST', '/edev', WIRE.endDevice.replace('0x21352135135', `0x${'F'.repeat(41)}`), /lFDI 0xF+ has more than 40 hex digits/],
      ['POST', '/edev', WIRE.endDevice.replace('356563223726', 'abc'), /sFDI must be an unsigned decimal integer/],
    ];
    for (const [method, path, body, message] of cases) {
      const res = await envoyClient(server, method, path, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(parseXml(res.text).body.message).toMatch(message);
    }
    expect(server.handler.state.sites).toHaveLength(0);
    expect((await envoyClient(server, 'POST', '/edev', WIRE.endDevice)).status).toBe(201);
    const later: [string, string, RegExp][] = [
      ['/edev/1/di', WIRE.deviceInformation.replace(/<mfModel>.*<\/mfModel>/, ''), /mfModel is required/],
      ['/edev/1/di', WIRE.deviceInformation.replace('524288', '1e6'), /functionsImplemented must be hexBinary/],
      ['/edev/1/di', '<EndDevice></EndDevice>', /Expected a DeviceInformation document, got EndDevice/],
      ['/edev/1/cp', '<ConnectionPoint><connectionPointID></connectionPointID></ConnectionPoint>', /connectionPointId is required/],
      ['/edev/1/cp', '<Connection><meterID>NMI123</meterID></Connection>', /Expected a ConnectionPoint document/],
    ];
    for (const [path, body, message] of later) {
      const res = await envoyClient(server, 'PUT', path, body);
      expect({ body, status: res.status, message: parseXml(res.text).body.message }).toEqual({ body, status: 400, message: expect.stringMatching(message) });
    }
    expect((await envoyClient(server, 'POST', '/edev/1/der', WIRE.der)).status).toBe(201);
    for (const body of [WIRE.derCapability.replace(/<type>.*<\/type>/, ''), WIRE.derCapability.replace(/<rtgMaxW>.*<\/rtgMaxW>/, ''), '<DERCapability>1</DERCapability']) {
      expect({ body, status: (await envoyClient(server, 'PUT', '/edev/1/der/1/dercap', body)).status }).toEqual({ body, status: 400 });
    }
    expect(server.handler.state.sites[0]!.nmi).toBe('');
    expect(server.handler.state.sites[0]!.deviceInformation).toBeUndefined();
    expect(server.handler.state.sites[0]!.ders[0]!.capability).toBeUndefined();
  });

  it('device certificate: accepts its own LFDI as 0x… and envoy-client\'s SFDI of it with a warning; other mismatches stay 403', async () => {
    // IEEE 2030.5 example LFDI: envoy-client's SFDI 669044845563, the standard's 167261211391 (reference §3.2)
    const device = '3E4F45AB31EDFE5B67E343E5E4562E31984E23E5';
    const { server } = await start({ profile: 'seed' });
    const body = (lfdi: string, sfdi: string): string => WIRE.endDevice.replace('0x21352135135', lfdi).replace('356563223726', sfdi);
    const foreign = await envoyClient(server, 'POST', '/edev', body('0x21352135135', '356563223726'), device);
    expect([foreign.status, parseXml(foreign.text).body.message]).toEqual([403, 'lfdi mismatch']);
    const wrongSfdi = await envoyClient(server, 'POST', '/edev', body(`0x${device.toLowerCase()}`, '123456789012'), device);
    expect([wrongSfdi.status, parseXml(wrongSfdi.text).body.message]).toEqual([403, 'sfdi mismatch']);
    const created = await envoyClient(server, 'POST', '/edev', body(`0x${device.toLowerCase()}`, '669044845563'), device);
    expect([created.status, created.location]).toEqual([201, '/edev/1']);
    expect(server.handler.state.sites[0]).toMatchObject({ lfdi: device, sfdi: '669044845563', owner: device });
    expect(logged(server, 3).warnings).toContain(
      `sFDI 669044845563 is not the SFDI of the certificate LFDI ${device}: IEEE 2030.5 §6.3.5 derives ${sfdiFromLfdi(device)}; 669044845563 is what envoy-client 0.1.1's SFDI algorithm gives ${SEED}`,
    );
    expect(logged(server, 3).warnings).toContain(`lFDI 0x${device.toLowerCase()} is written with 0x: IEEE 2030.5 LFDI (HexBinary160) is 40 hex digits without 0x; stored as ${device} ${SEED}`);
  });

  it('accepts envoy-client\'s 13-digit SFDIs, and without ConnectionPoint/DER links (csipaus 1.2, derLinks off) its legacy paths', async () => {
    const { server } = await start({ profile: 'seed', csipaus: '1.2', derLinks: false });
    const lfdi = '8000000010000000000000000000000000000000'; // envoy-client appends "10": 3435973836910 (reference §3.2)
    const edev = await envoyClient(server, 'POST', '/edev', WIRE.endDevice.replace('0x21352135135', `0x${lfdi}`).replace('356563223726', '3435973836910'));
    expect(edev.status).toBe(201);
    expect(logged(server, 1).warnings).toContain(`sFDI 3435973836910 exceeds UInt40: IEEE 2030.5 SFDIType is a UInt40 of at most 12 digits ${SEED}`);
    expect((await envoyClient(server, 'POST', '/edev/1/der', WIRE.der)).status).toBe(201);
    const cap = await envoyClient(server, 'PUT', '/edev/1/der/1/dercap', WIRE.derCapability);
    expect(cap.status).toBe(200);
    expect(logged(server, 3).warnings).toEqual(expect.arrayContaining([
      `DERCapability has no csipaus:doeModesSupported: CSIP-AUS requires it (minOccurs=1) ${SEED}`,
      `DERCapability at /edev/1/der/1/dercap, which this server does not link (derLinks off): IEEE 2030.5 clients follow the DER's DERCapabilityLink ${SEED}`,
    ]));
    const cp = await envoyClient(server, 'PUT', '/edev/1/cp', WIRE.connectionPoint);
    expect(cp.status).toBe(200);
    expect(server.handler.state.sites[0]).toMatchObject({ sfdi: '3435973836910', nmi: 'NMI123' });
  });

  it('warns nothing for a standard client, and prints warnings on stderr by default', async () => {
    const standard = `<EndDevice xmlns="${SEP_NS}"><deviceCategory>040000</deviceCategory><lFDI>3E4F45AB31EDFE5B67E343E5E4562E31984E23E5</lFDI>`
      + '<sFDI>167261211391</sFDI><changedTime>0</changedTime><enabled>true</enabled><postRate>0</postRate></EndDevice>';
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const server = await startSep2Server({ profile: 'seed', aggregators: [AGGREGATOR] });
      running.push(server);
      const res = await new Promise<number>((resolve, reject) => {
        const url = new URL('/edev', server.url);
        const req = http.request({
          host: url.hostname, port: url.port, path: '/edev', method: 'POST', agent: false,
          headers: { 'x-forwarded-client-cert': AGGREGATOR, Accept: 'application/sep+xml', 'Content-Type': 'application/sep+xml' },
        }, (answer) => {
          answer.resume();
          answer.on('end', () => resolve(answer.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(standard);
      });
      expect(res).toBe(201);
      const ours = (): string[] => write.mock.calls.map(([chunk]) => String(chunk)).filter((line) => line.startsWith('sep2 test server warning:'));
      expect(server.requests[0]!.warnings).toEqual([]);
      expect(ours()).toEqual([]);
      expect((await envoyClient(server, 'POST', '/edev', WIRE.endDevice)).status).toBe(201);
      const lines = ours();
      expect(lines).toContain(`sep2 test server warning: POST /edev: EndDevice has no namespace: IEEE 2030.5 requires urn:ieee:std:2030.5:ns ${SEED}\n`);
      expect(lines).toHaveLength(server.requests[1]!.warnings.length);
    } finally {
      write.mockRestore();
    }
  });
});

describe('envoy profile: stays strict (§5.3, §6.2)', () => {
  it('refuses envoy-client\'s first request with 400 naming the namespace rule, in both forms, and warns nothing', async () => {
    const { server, printed } = await start({ profile: 'envoy' });
    for (const body of [WIRE.endDevice, README.endDevice]) {
      const res = await envoyClient(server, 'POST', '/edev', body);
      expect(res.status).toBe(400);
      expect(parseXml(res.text).body).toMatchObject({ reasonCode: '0', message: `EndDevice must be in the ${SEP_NS} namespace.` });
    }
    expect((await envoyClient(server, 'PUT', '/edev/1/cp', WIRE.connectionPoint)).status).toBe(404);
    expect(server.handler.state.sites).toHaveLength(0);
    expect(server.requests.every((entry) => entry.warnings.length === 0)).toBe(true);
    expect(printed).toEqual([]);
  });
});
