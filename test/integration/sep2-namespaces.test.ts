/**
 * Namespaced documents over real sockets: a raw loopback HTTP server (not the test server, so the documents are
 * exactly the ones a utility sent) serves a DeviceCapability, an EndDeviceList and an EndDevice whose
 * ConnectionPointLink declares its own namespace (`<au:ConnectionPointLink xmlns:au=…>`, or a redeclared default
 * namespace), and Energy Queensland-style documents that declare CSIP-AUS on the root as `ns2` and use it nowhere.
 * The real Sep2Client and registerSite drive it; the assertions are on what the server recorded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { RegistrationPolicy, SiteRegistration } from '../../machines/registration/registration.types.js';
import { registerSite } from '../../src/adapters/sep2/registration.service.js';
import { Sep2Client } from '../../src/adapters/sep2/sep2.client.js';
import { parseXml } from '../../src/adapters/sep2/xml.js';

const LFDI = '3E4F45AB31EDFE5B67E343E5E4562E31984E23E5';
const NMI = '4103861111';
const SEP = 'xmlns="urn:ieee:std:2030.5:ns"';
/** Energy Queensland declares the CSIP-AUS namespace on every root, as ns2. */
const EQ = 'xmlns="urn:ieee:std:2030.5:ns" xmlns:ns2="https://csipaus.org/ns"';
const MAX_BODY = 64 * 1024;

interface Recorded {
  method: string;
  path: string;
  body: string;
  contentType: string | undefined;
}

interface RawServer {
  url: string;
  requests: Recorded[];
  close(): Promise<void>;
}

/** Serves `documents` (path → XML) to GET, answers PUT with 204 and POST with 201 + Location; records every request. */
async function startRawServer(documents: Record<string, string>): Promise<RawServer> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      requests.push({ method: req.method ?? '', path, body: Buffer.concat(chunks).toString('utf8'), contentType: req.headers['content-type'] });
      const document = documents[path];
      if (req.method === 'GET' && document !== undefined) {
        res.writeHead(200, { 'Content-Type': 'application/sep+xml' }).end(document);
      } else if (req.method === 'PUT') {
        res.writeHead(204).end();
      } else if (req.method === 'POST') {
        res.writeHead(201, { Location: '/edev/1' }).end();
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const policy: RegistrationPolicy = {
  dcapPath: '/dcap', pageSize: 10, maxPages: 10, inBandRegistration: true, csipaus: 'auto', createDer: false, legacyPathFallback: false,
  maxAttempts: 2, retryBaseMs: 10, retryMaxMs: 20, outOfBandPollMs: 60_000,
};

const site: SiteRegistration = {
  name: 'site-ns', lfdi: LFDI, deviceCategory: 0x020000, nmi: NMI,
  derCapability: { modesSupported: 0x00500088, rtgMaxW: 7_000, type: 82, doeModesSupported: 0x0f },
};

/** Registers the site against a raw server holding `documents`; the server and the client are always closed. */
async function register(documents: Record<string, string>): Promise<{ ok: boolean; requests: Recorded[] }> {
  const server = await startRawServer(documents);
  const client = new Sep2Client({ baseUrl: server.url, timeoutMs: 3000 });
  try {
    const outcome = await registerSite(site, { client, policy });
    return { ok: outcome.ok, requests: server.requests };
  } finally {
    await client.close();
    await server.close();
  }
}

const endDeviceBody = (extra: string): string =>
  `<lFDI>${LFDI}</lFDI><sFDI>167261211391</sFDI><changedTime>1700000000</changedTime><enabled>true</enabled>${extra}`;

/** A server whose EndDevice (in the list and on its own) carries `link`; the DeviceCapability has a vendor extension. */
const linkDocuments = (link: string): Record<string, string> => ({
  '/dcap': `<DeviceCapability ${SEP} href="/dcap"><EndDeviceListLink href="/edev" all="1"/><vx:x xmlns:vx="urn:vendor"><vx:y>1</vx:y></vx:x></DeviceCapability>`,
  '/edev': `<EndDeviceList ${SEP} href="/edev" all="1" results="1"><EndDevice href="/edev/1">${endDeviceBody(link)}</EndDevice></EndDeviceList>`,
  '/edev/1': `<EndDevice ${SEP} href="/edev/1">${endDeviceBody(link)}</EndDevice>`,
});

function expectConnectionPointPut(requests: Recorded[], href: string): void {
  const puts = requests.filter((r) => r.method === 'PUT' && r.path === href);
  expect(puts, `PUT ${href} in ${requests.map((r) => `${r.method} ${r.path}`).join(', ')}`).toHaveLength(1);
  const sent = parseXml(puts[0]!.body);
  expect(puts[0]!.contentType).toBe('application/sep+xml');
  expect(sent.root).toBe('csipaus:ConnectionPoint');
  expect(sent.body['csipaus:connectionPointId']).toBe(NMI);
}

describe('namespaced ConnectionPointLink forms reach the ConnectionPoint PUT (raw loopback server)', () => {
  it('<au:ConnectionPointLink xmlns:au="https://csipaus.org/ns"> declared on the link itself', async () => {
    const { ok, requests } = await register(linkDocuments('<au:ConnectionPointLink xmlns:au="https://csipaus.org/ns" href="/sites/prefixed/cp"/>'));
    expect(ok).toBe(true);
    expectConnectionPointPut(requests, '/sites/prefixed/cp');
  });

  it('<ConnectionPointLink xmlns="https://csipaus.org/ns"> (a redeclared default namespace)', async () => {
    const { ok, requests } = await register(linkDocuments('<ConnectionPointLink xmlns="https://csipaus.org/ns" href="/sites/default/cp"/>'));
    expect(ok).toBe(true);
    expectConnectionPointPut(requests, '/sites/default/cp');
  });

  it('a v1.3 link declared on the link: the ConnectionPoint is written in the v1.3 namespace', async () => {
    const { ok, requests } = await register(linkDocuments('<c:ConnectionPointLink xmlns:c="https://csipaus.org/ns/v1.3" href="/sites/v13/cp"/>'));
    expect(ok).toBe(true);
    expectConnectionPointPut(requests, '/sites/v13/cp');
    expect(parseXml(requests.find((r) => r.path === '/sites/v13/cp')!.body).csipaus).toBe('1.3');
  });
});

describe('Energy Queensland-style documents: CSIP-AUS declared on the root as ns2, no CSIP-AUS element', () => {
  const documents: Record<string, string> = {
    '/dcap': `<DeviceCapability ${EQ} href="/dcap"><EndDeviceListLink href="/api/v2/edev" all="1"/></DeviceCapability>`,
    '/api/v2/edev': `<EndDeviceList ${EQ} href="/api/v2/edev" all="1" results="1"><EndDevice href="/api/v2/edev/_EQLDEV3">${endDeviceBody('<DERListLink href="/api/v2/edev/_EQLDEV3/der" all="1"/>')}</EndDevice></EndDeviceList>`,
    '/api/v2/edev/_EQLDEV3': `<EndDevice ${EQ} href="/api/v2/edev/_EQLDEV3">${endDeviceBody('<DERListLink href="/api/v2/edev/_EQLDEV3/der" all="1"/>')}</EndDevice>`,
    '/api/v2/edev/_EQLDEV3/der': `<DERList ${EQ} href="/api/v2/edev/_EQLDEV3/der" all="1" results="1"><DER href="/api/v2/edev/_EQLDEV3/der/1"><DERCapabilityLink href="/api/v2/edev/_EQLDEV3/der/1/dercap"/></DER></DERList>`,
    '/api/v2/edev/_EQLDEV3/der/1': `<DER ${EQ} href="/api/v2/edev/_EQLDEV3/der/1"><DERCapabilityLink href="/api/v2/edev/_EQLDEV3/der/1/dercap"/></DER>`,
  };

  it('the client treats the server as CSIP-AUS 1.2: the DERCapability PUT carries csipaus:doeModesSupported', async () => {
    const { ok, requests } = await register(documents);
    expect(ok).toBe(true);
    const puts = requests.filter((r) => r.method === 'PUT' && r.path === '/api/v2/edev/_EQLDEV3/der/1/dercap');
    expect(puts, requests.map((r) => `${r.method} ${r.path}`).join(', ')).toHaveLength(1);
    const sent = parseXml(puts[0]!.body);
    expect(sent.root).toBe('DERCapability');
    expect(sent.csipaus).toBe('1.2');
    expect(sent.body['csipaus:doeModesSupported']).toBe('0F');
    expect(puts[0]!.body).toMatch(/xmlns:(\w+)="https:\/\/csipaus\.org\/ns".*<\1:doeModesSupported>0F<\/\1:doeModesSupported>/);
    // No ConnectionPointLink and no legacy fallback: no ConnectionPoint is written.
    expect(requests.filter((r) => r.path.endsWith('/cp'))).toEqual([]);
  });
});
