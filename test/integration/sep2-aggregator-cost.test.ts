/**
 * What an aggregator's fleet costs the 2030.5 server, counted from the server's request log over real mutual-TLS
 * sockets: the requests per site do not grow with the number of sites (the DeviceCapability, Time and the
 * EndDeviceList are read once per fleet, the list paged into an index by LFDI), registered sites are found by one
 * list scan without a POST, and a site someone else registered after the scan is found by one refresh of the index
 * after its 409.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { RegistrationPolicy, SiteRegistration } from '../../machines/registration/registration.types.js';
import { Sep2Directory } from '../../src/adapters/sep2/directory.js';
import { certificateIdentity } from '../../src/adapters/sep2/identity.js';
import { RegistrationFleet, type SiteOutcome } from '../../src/adapters/sep2/registration.service.js';
import { Sep2Client } from '../../src/adapters/sep2/sep2.client.js';
import { SEP_NS } from '../../src/adapters/sep2/xml.js';
import { sfdiFromLfdi } from '../../src/domain/sep2-identity.js';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';
import { startSep2Server, type Sep2Server, type Sep2ServerStartOptions } from '../../src/simulators/sep2-server/index.js';

const pki = createSep2Pki('aggregator cost test');
const serverCert = pki.issueServer(['127.0.0.1']);
const aggregator = pki.issueDevice('AGGREGATOR-COST');
const AGG = certificateIdentity(aggregator.certPem).lfdi;

const servers: Sep2Server[] = [];
const clients: Sep2Client[] = [];
afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(options: Partial<Sep2ServerStartOptions> = {}): Promise<Sep2Server> {
  const s = await startSep2Server({
    profile: 'envoy', aggregators: [AGG], ...options,
    tls: { keyPem: serverCert.keyPem, certPem: serverCert.certPem, caPem: pki.sercaPem },
  });
  servers.push(s);
  return s;
}

function client(s: Sep2Server): Sep2Client {
  const c = new Sep2Client({ baseUrl: s.url, tls: { certPem: aggregator.chainPem, keyPem: aggregator.keyPem, caPem: pki.sercaPem }, timeoutMs: 5000 });
  clients.push(c);
  return c;
}

const PAGE_SIZE = 10;
const policy: RegistrationPolicy = {
  dcapPath: '/dcap', pageSize: PAGE_SIZE, maxPages: 100, inBandRegistration: true, csipaus: 'auto', createDer: false, legacyPathFallback: false,
  maxAttempts: 5, retryBaseMs: 20, retryMaxMs: 200, outOfBandPollMs: 60_000,
};

/** Managed-device LFDIs: unique first 9 hex digits (the SFDI sees only those), PEN 99999 last. */
const lfdiOf = (i: number): string => `${(0x200000000 + i).toString(16).toUpperCase().padStart(9, '0')}${'0'.repeat(23)}00099999`;

const sites = (count: number): SiteRegistration[] => Array.from({ length: count }, (_, i) => ({
  name: `site-${i}`, lfdi: lfdiOf(i), deviceCategory: 0x020000, nmi: `NMI${String(i).padStart(7, '0')}`,
  derCapability: { modesSupported: 0x00500088, rtgMaxW: 7000, type: 82, doeModesSupported: 0x0f },
  derSettings: { modesEnabled: 0x00500088, setGradW: 100, setMaxW: 7000, doeModesEnabled: 0x0f },
  derStatus: { genConnectStatus: 1 },
}));

/** Registers a fleet; returns its outcomes and its directory's counters. */
async function register(s: Sep2Server, fleetSites: SiteRegistration[], concurrency: number) {
  const fleet = new RegistrationFleet(fleetSites, { client: client(s), policy, concurrency });
  try {
    const outcomes = await fleet.start();
    return { outcomes, stats: { ...fleet.directory.stats } };
  } finally {
    fleet.stop();
  }
}

/** The server's recorded requests by method and path shape: `GET /edev`, `PUT /edev/{id}/der/{id}/dercap`. */
function kinds(s: Sep2Server, where: (r: Sep2Server['requests'][number]) => boolean = () => true): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of s.requests.filter(where)) {
    const kind = `${r.method} ${r.path.replace(/^\/edev\/[^/]+/, '/edev/{id}').replace(/\/der\/[^/]+/, '/der/{id}')}`;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}
const count = (k: Map<string, number>, kind: string): number => k.get(kind) ?? 0;
const total = (k: Map<string, number>): number => [...k.values()].reduce((a, b) => a + b, 0);
const pathOf = (o: SiteOutcome): string | undefined => (o.ok ? new URL(o.endDevice, 'https://server').pathname : undefined);

describe('aggregator fleet: requests per site', () => {
  it('stay flat from 20 to 80 new sites: DeviceCapability and Time read once, the EndDeviceList paged once', async () => {
    const perSite: Record<number, { all: number; withoutDiscovery: number; ownRequests: number }> = {};
    for (const size of [20, 80]) {
      const s = await server();
      const { outcomes, stats } = await register(s, sites(size), 4);
      expect(outcomes.filter((o) => !o.ok)).toEqual([]);
      expect(s.handler.state.sites).toHaveLength(size);
      expect(s.requests.every((r) => r.status < 300)).toBe(true); // no 409, no retry
      const k = kinds(s);
      expect(count(k, 'GET /dcap')).toBe(1);
      expect(count(k, 'GET /tm')).toBe(1);
      expect(count(k, 'GET /edev')).toBeLessThanOrEqual(Math.ceil(size / PAGE_SIZE) + 2);
      expect(stats).toMatchObject({ capabilityReads: 1, timeReads: 1, scans: 1 });
      expect(count(k, 'POST /edev')).toBe(size);
      const shared = count(k, 'GET /dcap') + count(k, 'GET /tm') + count(k, 'GET /edev');
      perSite[size] = { all: total(k) / size, withoutDiscovery: (total(k) - count(k, 'GET /dcap') - count(k, 'GET /tm')) / size, ownRequests: (total(k) - shared) / size };
    }
    const [small, large] = [perSite[20]!, perSite[80]!];
    // A list read per site (the old way: ceil(listed / pageSize) GETs each) would add ~4 requests per site at 80.
    expect(large.all - small.all).toBeLessThanOrEqual(0.1);
    // The two once-per-fleet discovery reads amortise (3 shared reads: 3/20 − 3/80 = 0.11 fewer per site at 80).
    expect(Math.abs(large.withoutDiscovery - small.withoutDiscovery)).toBeLessThanOrEqual(0.1);
    // What each site asks for itself is the same whatever the fleet size.
    expect(large.ownRequests).toBe(small.ownRequests);
  });

  it('finds 30 sites registered out of band with one list scan and no POST', async () => {
    const fleetSites = sites(30);
    const s = await server({ preRegistered: fleetSites.map((site) => ({ lfdi: site.lfdi, owner: AGG })) });
    const { outcomes, stats } = await register(s, fleetSites, 4);
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    const k = kinds(s);
    expect(count(k, 'POST /edev')).toBe(0);
    // 31 listed (envoy's aggregator EndDevice first) at 10 a page: 4 GETs.
    expect(count(k, 'GET /edev')).toBeLessThanOrEqual(4);
    expect(stats.scans).toBe(1);
    expect(count(k, 'GET /dcap')).toBe(1);
    expect(count(k, 'GET /tm')).toBe(1);
    const hrefs = new Map(s.handler.state.sites.map((site) => [site.lfdi.toUpperCase(), site.href]));
    expect(outcomes.map(pathOf)).toEqual(fleetSites.map((site) => hrefs.get(site.lfdi)));
    expect(s.handler.state.sites).toHaveLength(30);
  });

  it('finds a site registered by someone else after the scan by one refresh after its 409', async () => {
    const fleetSites = sites(5);
    const late = fleetSites[2]!;
    const s = await server();
    // Right after the fleet's first EndDeviceList read, another client with the aggregator certificate (a second
    // controller, a portal) registers site-2: the fleet's index does not have it.
    const dispatch = s.handler.dispatch.bind(s.handler);
    let other: string | undefined;
    s.handler.dispatch = (req) => {
      const response = dispatch(req);
      if (other === undefined && req.method === 'GET' && req.path.startsWith('/edev?')) {
        const body = `<EndDevice xmlns="${SEP_NS}"><deviceCategory>020000</deviceCategory><lFDI>${late.lfdi}</lFDI><sFDI>${sfdiFromLfdi(late.lfdi)}</sFDI>`
          + `<changedTime>1700000000</changedTime><enabled>true</enabled></EndDevice>`;
        const created = dispatch({ method: 'POST', path: '/edev', headers: { 'content-type': 'application/sep+xml', 'x-test': 'someone else' }, body, clientLfdi: AGG });
        expect(created.status).toBe(201);
        other = created.headers.Location;
      }
      return response;
    };
    const { outcomes, stats } = await register(s, fleetSites, 1);
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    expect(other).toBeDefined();
    expect(pathOf(outcomes[2]!)).toBe(other);
    const fleetRequests = kinds(s, (r) => r.headers['x-test'] === undefined);
    // Five POSTs: four created, site-2's answered 409; then one more list read (two in all) found it.
    expect(s.requests.filter((r) => r.method === 'POST' && r.path === '/edev' && r.headers['x-test'] === undefined).map((r) => r.status)).toEqual([201, 201, 409, 201, 201]);
    expect(count(fleetRequests, 'GET /edev')).toBe(2);
    expect(stats.scans).toBe(2);
    expect(s.handler.state.sites).toHaveLength(5);
  });

  it('shares one refresh of the index between sites whose views are stale at the same time', async () => {
    const fleetSites = sites(25);
    const s = await server({ preRegistered: fleetSites.map((site) => ({ lfdi: site.lfdi, owner: AGG })) });
    let clock = 1;
    const directory = new Sep2Directory(client(s), { pageSize: PAGE_SIZE, maxPages: 100, now: () => clock });
    const listGets = (): number => s.requests.filter((r) => r.method === 'GET' && r.path === '/edev').length;
    expect((await directory.find('/edev', fleetSites[0]!.lfdi, false)).href).toBe('/edev/1');
    expect([directory.stats.scans, listGets()]).toEqual([1, 3]); // 26 listed at 10 a page
    clock = 2; // both views went stale after that read
    const found = await Promise.all([directory.find('/edev', fleetSites[3]!.lfdi, true), directory.find('/edev', fleetSites[24]!.lfdi.toLowerCase(), true)]);
    expect(found.map((f) => f.href)).toEqual(['/edev/4', '/edev/25']);
    expect([directory.stats.scans, listGets()]).toEqual([2, 6]);
  });
});
