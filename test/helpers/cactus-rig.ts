/**
 * The rig the CACTUS procedure tests share: the 2030.5 test server with short poll rates over mutual TLS (a test
 * PKI: SERCA, server certificate for 127.0.0.1, device certificate whose LFDI the site uses), a site registered on
 * it over real sockets, and the site's DER client ready to start, with every `grid.limit` it emitted and the wall
 * time it did.
 */
import { expect } from 'vitest';
import type { DerClientEmitted } from '../../machines/der-client.machine.js';
import type { RegistrationPolicy, SiteRegistration } from '../../machines/registration/registration.types.js';
import { certificateIdentity } from '../../src/adapters/sep2/identity.js';
import { createSep2Pki } from '../../src/pki/sep2-pki.js';
import { createDerClient, type DerClientActor } from '../../src/adapters/sep2/der-client.service.js';
import { registerSite } from '../../src/adapters/sep2/registration.service.js';
import { Sep2Client } from '../../src/adapters/sep2/sep2.client.js';
import type { GridLimit } from '../../src/domain/der-client.js';
import { startSep2Server, type ControlView, type Sep2Server, type Sep2ServerOptions } from '../../src/simulators/sep2-server/index.js';
export { sleep, until } from './wait.js';

const pki = createSep2Pki();
const serverCert = pki.issueServer(['127.0.0.1']);
const device = pki.issueDevice('EVSE-0007');
export const LFDI = certificateIdentity(device.certPem).lfdi;
export const RATED_W = 7000;

export const policy: RegistrationPolicy = {
  dcapPath: '/dcap', pageSize: 10, maxPages: 100, inBandRegistration: true, csipaus: 'auto', createDer: true, legacyPathFallback: false,
  maxAttempts: 5, retryBaseMs: 20, retryMaxMs: 200, outOfBandPollMs: 60_000,
};

export const site: SiteRegistration = {
  name: 'evse', lfdi: LFDI, deviceCategory: 0x020000, pin: 111115, nmi: '4103861111',
  deviceInformation: { lfdi: LFDI, functionsImplemented: 0x1000cd, mfDate: 0, mfHwVer: 'A', mfID: 12345, mfModel: 'EVSE-7', mfSerNum: 'SN0007', primaryPower: 1, secondaryPower: 0, swActTime: 0, swVer: '1.0' },
  derCapability: { modesSupported: 0x00500088, rtgMaxW: RATED_W, type: 82, doeModesSupported: 0x0f },
  derSettings: { modesEnabled: 0x00500088, setGradW: 0, setMaxW: RATED_W, doeModesEnabled: 0x0f },
  derStatus: { genConnectStatus: 1 },
};

export interface Seen { atMs: number; limit: GridLimit }

export interface Rig {
  server: Sep2Server;
  client: Sep2Client;
  endDevice: string;
  /** The EndDevice's path on the server (`/edev/1`). */
  edevPath: string;
  /** Every grid.limit the client emitted, with the wall time it did. */
  seen: Seen[];
  /** Starts the DER client (after the programs are set up, as a CACTUS test starts after its init phase). */
  startClient(): DerClientActor;
  statuses(mrid: string): (number | undefined)[];
}

export type Closer = () => Promise<void> | void;

/** The test server over mutual TLS, with the FSA, DERProgram and DER lists at 1 s unless `options.pollRates` says otherwise. */
export async function cactusServer(closers: Closer[], options: Partial<Sep2ServerOptions> = {}): Promise<Sep2Server> {
  const server = await startSep2Server({
    profile: 'envoy', tls: { keyPem: serverCert.keyPem, certPem: serverCert.certPem, caPem: pki.sercaPem }, ...options,
    pollRates: { FunctionSetAssignmentsList: 1, DERProgramList: 1, DERList: 1, ...options.pollRates },
  });
  closers.push(() => server.close());
  return server;
}

/** A Sep2Client with the device certificate (the site's LFDI), trusting the test SERCA. */
export function cactusClient(closers: Closer[], server: Sep2Server): Sep2Client {
  const client = new Sep2Client({ baseUrl: server.url, tls: { certPem: device.chainPem, keyPem: device.keyPem, caPem: pki.sercaPem }, timeoutMs: 1000 });
  closers.push(() => client.close());
  return client;
}

/**
 * A server (pollRate 1 s for the FSA, DERProgram and DER lists unless `server.pollRates` says otherwise), the site
 * registered on it, and a client ready to start. Everything it opens is pushed onto `closers`.
 */
export async function rig(closers: Closer[], options: { server?: Partial<Sep2ServerOptions> } = {}): Promise<Rig> {
  const server = await cactusServer(closers, options.server);
  const client = cactusClient(closers, server);
  const outcome = await registerSite(site, { client, policy });
  if (!outcome.ok) throw new Error(`registration failed: ${JSON.stringify(outcome.failure)}`);
  const seen: Seen[] = [];
  return {
    server,
    client,
    endDevice: outcome.endDevice,
    edevPath: new URL(outcome.endDevice, server.url).pathname,
    seen,
    startClient() {
      const { actor } = createDerClient({ client, site: site.name, lfdi: LFDI, endDeviceHref: outcome.endDevice, endDeviceRateS: 1, ratedW: RATED_W, retryMs: 300 });
      actor.on('*', (e) => {
        const event = e as DerClientEmitted;
        if (event.type === 'grid.limit') seen.push({ atMs: Date.now(), limit: event.limit });
      });
      actor.start();
      closers.push(() => void actor.stop());
      return actor;
    },
    statuses: (mrid) => server.handler.state.responses.filter((r) => r.subject === mrid).map((r) => r.status),
  };
}

export const last = (r: Rig): GridLimit | undefined => r.seen.at(-1)?.limit;
export const only = (views: ControlView[]): ControlView => {
  expect(views).toHaveLength(1);
  return views[0]!;
};
