/**
 * The test server's DER function set over real sockets (plain HTTP, identity from x-forwarded-client-cert as behind
 * envoy's proxy), per docs/csip-aus-der-client.md: FunctionSetAssignments → DERProgramList → DERProgram →
 * DefaultDERControl / DERControlList / ActiveDERControlList, envoy's list rules (finished controls drop out,
 * cancelled ones stay listed with status 2 or 3 until their end, supersession in one program → 4 with the new
 * creationTime), DERControlResponses (201 + Location, recorded; 400 as envoy), poll rates, the admin API in
 * process and over HTTP, connection refusal and the comms-loss 500 mode. The server clock is injected.
 */
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeDocument } from '../../src/adapters/sep2/sep2.schemas.js';
import { parseXml, SEP_NS } from '../../src/adapters/sep2/xml.js';
import { schemaFor } from '../../src/adapters/sep2/xsd.js';
import { sfdiFromLfdi } from '../../src/domain/sep2-identity.js';
import { COMMS_DISABLED_BODY, startSep2Server, type ControlView, type Sep2Server, type Sep2ServerStartOptions } from '../../src/simulators/sep2-server/index.js';
import { elementNames, listOf, sep2Client, sep2Request, xmlBody, type Sep2TestClient, type Sep2TestResponse } from '../helpers/sep2-http.js';
import { xsd, xsdMissingReason } from '../helpers/xsd.js';

const LFDI = '3E4F45AB31EDFE5B67E343E5E4562E3100099999';
const OTHER = '0123456789ABCDEF0123456789ABCDEF01234567';
const T0 = 1_700_000_000;

const running: Sep2Server[] = [];
afterAll(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

interface Rig {
  server: Sep2Server;
  dev: Sep2TestClient;
  /** The server clock (epoch ms). */
  clock: { ms: number };
  advance(seconds: number): void;
}

async function rig(options: Partial<Sep2ServerStartOptions> = {}, lfdi = LFDI): Promise<Rig> {
  const clock = { ms: T0 * 1000 };
  const server = await startSep2Server({ profile: 'envoy', now: () => clock.ms, ...options });
  running.push(server);
  return { server, dev: sep2Client(server.url, { headers: { 'x-forwarded-client-cert': lfdi } }), clock, advance: (seconds) => void (clock.ms += seconds * 1000) };
}

async function register(dev: Sep2TestClient, lfdi = LFDI): Promise<string> {
  const res = await dev.post('/edev', `<EndDevice xmlns="${SEP_NS}"><lFDI>${lfdi}</lFDI><sFDI>${sfdiFromLfdi(lfdi)}</sFDI><changedTime>${T0}</changedTime></EndDevice>`);
  expect(res.status).toBe(201);
  return res.headers.location!;
}

/** A JSON answer of the admin API (an object, or an array of views). */
interface AdminBody {
  message?: string;
  communications?: unknown;
  [key: string]: unknown;
}

async function admin(server: Sep2Server, method: string, path: string, body?: unknown): Promise<{ status: number; body: AdminBody }> {
  const url = new URL(path, server.adminUrl);
  const text = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

const decode = <K extends Parameters<typeof decodeDocument>[0]>(kind: K, res: Sep2TestResponse) => {
  expect(res.status).toBe(200);
  return decodeDocument(kind, res.text).doc;
};

/** Every 200 answer the server gave, valid against the schema its namespace names. */
function expectSchemaValid(server: Sep2Server): void {
  if (!xsd) return;
  let checked = 0;
  for (const entry of server.requests) {
    if (entry.status !== 200 || !entry.responseBody) continue;
    checked += 1;
    expect({ path: entry.path, problems: xsd.validate(entry.responseBody, schemaFor(entry.responseBody)) }).toEqual({ path: entry.path, problems: [] });
  }
  expect(checked).toBeGreaterThan(0);
}

const response = (subject: string, status: number, lfdi = LFDI, created = T0): string =>
  `<DERControlResponse xmlns="${SEP_NS}"><createdDateTime>${created}</createdDateTime><endDeviceLFDI>${lfdi}</endDeviceLFDI>`
  + `<status>${status}</status><subject>${subject}</subject></DERControlResponse>`;

describe('programs, defaults and controls as a client discovers them', () => {
  it(`serves FSA → DERProgramList → DERProgram → dderc/derc/actderc, schema-valid, created through the HTTP admin API${xsdMissingReason ? ` (XSD part skipped: ${xsdMissingReason})` : ''}`, async () => {
    const { server, dev } = await rig({ adminPort: 0 });
    const edev = await register(dev);
    expect(decode('EndDevice', await dev.get(edev)).functionSetAssignmentsListLink).toEqual({ href: '/edev/1/fsa', all: 0 });
    expect(decode('FunctionSetAssignmentsList', await dev.get('/edev/1/fsa'))).toMatchObject({ all: 0, results: 0, pollRate: 60, assignments: [] });

    const program = await admin(server, 'POST', '/_sim/programs', { site: '1', primacy: 0, defaultControl: { opModImpLimW: 0, opModExpLimW: 0, setGradW: 27 } });
    expect(program.status).toBe(201);
    expect(program.body).toMatchObject([{ site: '1', id: 1, href: '/edev/1/derp/1', primacy: 0, defaultControl: { setGradW: 27 } }]);
    const first = await admin(server, 'POST', '/_sim/controls', { site: '1', mrid: 'DC000001', startInS: 0, duration: 300, opModImpLimW: 5000 });
    const second = await admin(server, 'POST', '/_sim/controls', {
      site: LFDI.toLowerCase(), startInS: 600, duration: 300, randomizeStart: 60, opModExpLimW: 50_000, opModEnergize: true, rampTms: 6000, opModLoadLimW: { value: 15, multiplier: 2 },
    });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(first.body).toMatchObject([{ mrid: 'DC000001', program: '/edev/1/derp/1', currentStatus: 1, start: T0, duration: 300 }]);
    const secondMrid = (second.body as unknown as ControlView[])[0]!.mrid;
    expect(secondMrid).toMatch(/^3[0-9A-F]{31}$/); // envoy's mRID layout: type nibble 3 (DOE), id, IANA PEN

    // Discovery, following the links.
    const endDevice = decode('EndDevice', await dev.get(edev));
    expect(endDevice.functionSetAssignmentsListLink).toEqual({ href: '/edev/1/fsa', all: 1 });
    const fsaList = decode('FunctionSetAssignmentsList', await dev.get(endDevice.functionSetAssignmentsListLink!.href));
    expect(fsaList).toMatchObject({ all: 1, results: 1, pollRate: 60, assignments: [{ href: '/edev/1/fsa/1', derProgramListLink: { href: '/edev/1/fsa/1/derp', all: 1 }, timeLink: { href: '/tm' } }] });
    expect(elementNames(xmlBody(await dev.get('/edev/1/fsa/1')))).toEqual(['DERProgramListLink', 'TimeLink', 'mRID', 'description']);
    const programs = decode('DERProgramList', await dev.get(fsaList.assignments[0]!.derProgramListLink!.href));
    expect(programs).toMatchObject({ all: 1, results: 1, pollRate: 60 });
    const derp = programs.programs[0]!;
    expect(derp).toMatchObject({
      href: '/edev/1/derp/1', primacy: 0, defaultControlLink: { href: '/edev/1/derp/1/dderc' },
      controlListLink: { href: '/edev/1/derp/1/derc', all: 2 }, activeControlListLink: { href: '/edev/1/derp/1/actderc', all: 1 },
    });
    expect(elementNames(xmlBody(await dev.get(derp.href!)))).toEqual(['mRID', 'description', 'ActiveDERControlListLink', 'DefaultDERControlLink', 'DERControlListLink', 'primacy']);

    const dderc = decode('DefaultDERControl', await dev.get(derp.defaultControlLink!.href));
    expect(dderc).toMatchObject({ href: '/edev/1/derp/1/dderc', setGradW: 27, base: { opModImpLimW: 0, opModExpLimW: 0, unsupported: [] } });
    expect(elementNames(xmlBody(await dev.get(derp.defaultControlLink!.href)))).toEqual(['mRID', 'DERControlBase', 'setGradW']);

    const all = decode('DERControlList', await dev.get(`${derp.controlListLink!.href}?l=10`));
    expect(all).toMatchObject({ all: 2, results: 2, pollRate: undefined });
    expect(all.controls).toMatchObject([
      {
        href: `/edev/1/derp/1/derc/1`, mrid: 'DC000001', creationTime: T0, currentStatus: 1, statusTime: T0, potentiallySuperseded: false, start: T0, duration: 300,
        randomizeStart: 0, replyTo: '/edev/1/rsps/site_control/rsp', responseRequired: 3, base: { opModImpLimW: 5000, unsupported: [] },
      },
      {
        mrid: secondMrid, currentStatus: 0, start: T0 + 600, duration: 300, randomizeStart: 60,
        base: { opModExpLimW: 50_000, opModEnergize: true, rampTms: 6000, opModLoadLimW: 1500, unsupported: [] },
      },
    ]);
    const raw = await dev.get(`${derp.controlListLink!.href}?s=1&l=1`);
    expect(raw.text).toContain('responseRequired="03"');
    expect(raw.text).toContain('<csipaus:opModExpLimW><multiplier>1</multiplier><value>5000</value></csipaus:opModExpLimW>'); // envoy raises the multiplier
    const control = listOf(xmlBody(raw), 'DERControl')[0]!;
    expect(elementNames(control)).toEqual(['mRID', 'description', 'creationTime', 'EventStatus', 'interval', 'randomizeStart', 'DERControlBase']);
    expect(elementNames(control.DERControlBase as never)).toEqual(['opModEnergize', 'rampTms', 'csipaus:opModExpLimW', 'csipaus:opModLoadLimW']);
    expect(elementNames(control.EventStatus as never)).toEqual(['currentStatus', 'dateTime', 'potentiallySuperseded']);
    expect(elementNames(control.interval as never)).toEqual(['duration', 'start']);

    const paged = decode('DERControlList', await dev.get(derp.controlListLink!.href)); // envoy's default page: l=1
    expect(paged).toMatchObject({ all: 2, results: 1, controls: [{ mrid: 'DC000001' }] });
    const active = decode('DERControlList', await dev.get(derp.activeControlListLink!.href));
    expect(active).toMatchObject({ all: 1, results: 1, controls: [{ mrid: 'DC000001', currentStatus: 1 }] });
    expect(xmlBody(await dev.get('/edev/1/derp/1/derc/1'))).toMatchObject({ '@_href': '/edev/1/derp/1/derc/1', mRID: 'DC000001' });

    // The other program list paths of envoy: {edev}/derp and the DER's AssociatedDERProgramListLink.
    expect(decode('DERProgramList', await dev.get('/edev/1/derp')).programs[0]?.href).toBe('/edev/1/derp/1');
    expect(xmlBody(await dev.get('/edev/1/der/1'))).toMatchObject({ AssociatedDERProgramListLink: { '@_href': '/edev/1/der/1/derp', '@_all': '1' } });
    expect(decode('DERProgramList', await dev.get('/edev/1/der/1/derp')).all).toBe(1);
    for (const missing of ['/edev/1/fsa/2', '/edev/1/fsa/2/derp', '/edev/1/derp/9', '/edev/1/derp/9/derc', '/edev/1/derp/1/derc/99', '/edev/1/derp/1/nope']) {
      expect({ missing, status: (await dev.get(missing)).status }).toEqual({ missing, status: 404 });
    }
    expect((await dev.put('/edev/1/derp/1/derc', '<x/>')).status).toBe(405);

    // A second program, primacy 1, lists after the first; without a default it serves an empty DefaultDERControl.
    expect((await admin(server, 'POST', '/_sim/programs', { primacy: 1, description: 'secondary' })).body).toMatchObject([{ id: 2, primacy: 1 }]);
    const two = decode('DERProgramList', await dev.get('/edev/1/fsa/1/derp?l=5'));
    expect(two.programs.map((p) => [p.href, p.primacy, p.description])).toEqual([['/edev/1/derp/1', 0, 'Program 1'], ['/edev/1/derp/2', 1, 'secondary']]);
    expect(decode('DERProgramList', await dev.get('/edev/1/fsa/1/derp?s=1'))).toMatchObject({ all: 2, results: 1, programs: [{ href: '/edev/1/derp/2' }] });
    // envoy's empty default: `<DERControlBase/>`, no setGradW. (Read with parseXml: decodeDocument rejects an empty
    // DERControlBase, which fast-xml-parser gives as "", though the schema allows it.)
    const empty = xmlBody(await dev.get('/edev/1/derp/2/dderc'));
    expect(elementNames(empty)).toEqual(['mRID', 'DERControlBase']);
    expect(empty.DERControlBase).toBe('');
    expect(empty.mRID).toMatch(/^1[0-9A-F]{31}$/);
    expect(decode('FunctionSetAssignmentsList', await dev.get('/edev/1/fsa')).assignments[0]?.derProgramListLink).toEqual({ href: '/edev/1/fsa/1/derp', all: 2 });

    // A site the client cannot see stays hidden.
    expect((await sep2Client(server.url, { headers: { 'x-forwarded-client-cert': OTHER } }).get('/edev/1/derp/1/derc')).status).toBe(404);
    expectSchemaValid(server);
  });

  it.skipIf(!xsd)('writes CSIP-AUS elements in the server\'s namespace: v1.3, and v1.2 on a plain 2030.5 (seed) server', async () => {
    for (const options of [{ profile: 'envoy', csipaus: '1.3' }, { profile: 'seed' }] as const) {
      const { server, dev } = await rig({ ...options, preRegistered: [{ lfdi: LFDI }], onWarning: null });
      server.handler.createProgram({ defaultControl: { opModImpLimW: 1000, setGradW: 100 } });
      server.handler.createControl({ duration: 60, opModExpLimW: 0, opModConnect: false });
      const list = await dev.get('/edev/1/derp/1/derc');
      expect(list.text).toContain(options.profile === 'seed' ? 'xmlns:csipaus="https://csipaus.org/ns"' : 'xmlns:csipaus="https://csipaus.org/ns/v1.3"');
      expect(decodeDocument('DERControlList', list.text).csipaus).toBe(options.profile === 'seed' ? '1.2' : '1.3');
      for (const href of ['/edev/1/fsa', '/edev/1/fsa/1', '/edev/1/fsa/1/derp', '/edev/1/derp/1', '/edev/1/derp/1/dderc', '/edev/1/derp/1/actderc', '/edev/1/derp/1/derc/1']) {
        expect({ href, status: (await dev.get(href)).status }).toEqual({ href, status: 200 });
      }
      expectSchemaValid(server);
    }
  });
});

describe('envoy\'s list rules: cancel, supersede, finished controls', () => {
  it('keeps cancelled controls listed with status 2 (3 when randomized) until their end, then drops them like finished ones', async () => {
    const { server, dev, advance } = await rig({ preRegistered: [{ lfdi: LFDI }] });
    const { handler } = server;
    handler.createProgram({ site: '1', defaultControl: { opModImpLimW: 0 } });
    const [a] = handler.createControl({ site: '1', mrid: 'A1', duration: 300, opModImpLimW: 1000 });
    const [b] = handler.createControl({ site: '1', mrid: 'B1', startInS: 600, duration: 300, randomizeStart: 30, opModImpLimW: 2000 });
    const [c] = handler.createControl({ site: '1', mrid: 'C1', start: T0 + 1200, duration: 300, randomizeStart: 0, opModImpLimW: 3000 });
    const [d] = handler.createControl({ site: '1', mrid: 'D1', start: T0 + 1500, duration: 300, opModImpLimW: 4000 });
    expect([a, b, c, d].map((x) => x!.currentStatus)).toEqual([1, 0, 0, 0]);

    advance(10);
    expect(handler.cancelControl({ mrid: 'a1' })).toMatchObject([{ mrid: 'A1', currentStatus: 2, statusTime: T0 + 10, cancelled: true }]);
    handler.cancelControl({ site: '1', mrid: 'B1' }); // randomizeStart set → 3
    handler.cancelControl({ mrid: 'C1', randomized: false }); // explicit
    handler.cancelControl({ mrid: 'D1', randomized: true });
    const listed = decode('DERControlList', await dev.get('/edev/1/derp/1/derc?l=10')).controls;
    expect(listed.map((x) => [x.mrid, x.currentStatus, x.statusTime, x.creationTime])).toEqual([
      ['A1', 2, T0 + 10, T0 + 10], ['B1', 3, T0 + 10, T0 + 10], ['C1', 2, T0 + 10, T0 + 10], ['D1', 3, T0 + 10, T0 + 10],
    ]);
    expect(decode('DERControlList', await dev.get('/edev/1/derp/1/actderc')).all).toBe(0); // cancelled → not active
    expect(handler.admin({ method: 'POST', path: '/_sim/controls/cancel', body: { mrid: 'A1' } })).toMatchObject({ status: 409 });

    advance(290); // t = 300: A1's original end
    const afterA = decode('DERControlList', await dev.get('/edev/1/derp/1/derc?l=10'));
    expect(afterA.controls.map((x) => x.mrid)).toEqual(['B1', 'C1', 'D1']);
    expect(decode('DERProgramList', await dev.get('/edev/1/derp?l=5')).programs[0]?.controlListLink?.all).toBe(3);

    // A control that simply finishes drops out too; until then it is Active.
    handler.createControl({ mrid: 'E1', duration: 100, opModExpLimW: 0 });
    expect(decode('DERControlList', await dev.get('/edev/1/derp/1/actderc')).controls.map((x) => [x.mrid, x.currentStatus])).toEqual([['E1', 1]]);
    advance(99);
    expect(decode('DERControlList', await dev.get('/edev/1/derp/1/derc?l=1')).controls[0]).toMatchObject({ mrid: 'E1', currentStatus: 1 });
    advance(1);
    expect(decode('DERControlList', await dev.get('/edev/1/derp/1/derc?l=10')).controls.map((x) => x.mrid)).toEqual(['B1', 'C1', 'D1']);
    expect(decode('DERControlList', await dev.get('/edev/1/derp/1/actderc'))).toMatchObject({ all: 0, controls: [] });
    expect((await dev.get('/edev/1/derp/1/derc/5')).status).toBe(404);
    // Responses to a finished or cancelled control are still accepted (envoy looks in the archive too).
    expect((await dev.post('/edev/1/rsps/site_control/rsp', response('E1', 3))).status).toBe(201);
    expect((await dev.post('/edev/1/rsps/site_control/rsp', response('A1', 6))).status).toBe(201);
    expectSchemaValid(server);
  });

  it('supersedes an overlapping same-mode control of the same program (status 4, creationTime of the newer), never across programs or modes', async () => {
    const { server, dev, advance } = await rig({ preRegistered: [{ lfdi: LFDI }], adminPort: 0 });
    const { handler } = server;
    handler.createProgram({ primacy: 0 });
    handler.createProgram({ primacy: 1 });
    handler.createControl({ mrid: 'D4', startInS: 600, duration: 600, opModImpLimW: 10_000 });
    advance(5);
    handler.createControl({ mrid: 'AB', primacy: 1, startInS: 600, duration: 60, opModImpLimW: 0 }); // other program
    handler.createControl({ mrid: 'CD', startInS: 700, duration: 60, opModExpLimW: 0 }); // other mode
    expect(handler.describe().sites[0]!.programs[0]!.controls.map((x) => [x.mrid, x.currentStatus])).toEqual([['D4', 0], ['CD', 0]]);

    advance(5); // ALL-18 step 7: a newer control nested in DERC4, same program, before DERC4 starts
    const superseding = await admin(server, 'POST', '/_sim/controls/supersede', { supersede: 'D4', mrid: 'EF', start: T0 + 705, duration: 60, opModImpLimW: 0 });
    expect(superseding.status).toBe(201);
    expect(superseding.body).toMatchObject([{ mrid: 'EF', currentStatus: 0, creationTime: T0 + 10 }, { mrid: 'D4', currentStatus: 4, creationTime: T0 + 10, superseded: true }]);
    const controls = decode('DERControlList', await dev.get('/edev/1/derp/1/derc?l=10')).controls;
    // start ASC, then changed time DESC (EF and CD start together), then id DESC
    expect(controls.map((x) => [x.mrid, x.currentStatus, x.creationTime, x.statusTime, x.start])).toEqual([
      ['D4', 4, T0 + 10, T0 + 10, T0 + 600], ['EF', 0, T0 + 10, T0 + 10, T0 + 705], ['CD', 0, T0 + 5, T0 + 5, T0 + 705],
    ]);
    expect(decode('DERControlList', await dev.get('/edev/1/derp/2/derc?l=10')).controls.map((x) => [x.mrid, x.currentStatus])).toEqual([['AB', 0]]);

    // Nothing to supersede: it is already superseded, or the new one would not overlap it.
    expect(await admin(server, 'POST', '/_sim/controls/supersede', { supersede: 'D4' })).toMatchObject({ status: 409 });
    expect(await admin(server, 'POST', '/_sim/controls/supersede', { supersede: 'CD', start: T0 + 2000, duration: 10 })).toMatchObject({ status: 409 });
    // Omitted fields are copied: same window and modes (LOA-01 gives only the new limit and "now").
    expect(handler.supersedeControl({ supersede: 'CD' })).toMatchObject([{ start: T0 + 705, duration: 60, modes: { opModExpLimW: { value: 0, multiplier: 0 } } }, { mrid: 'CD', currentStatus: 4 }]);
    // Cancel-all cancels superseded controls too (a 7 may later show as 2).
    expect(handler.cancelControl({ site: '1' }).map((x) => [x.mrid, x.currentStatus])).toEqual([['D4', 2], ['CD', 2], ['EF', 2], [expect.any(String), 2], ['AB', 2]]);
    expectSchemaValid(server);
  });
});

describe('DERControlResponse (replyTo)', () => {
  it('accepts a valid Response with 201 + Location and records it; refuses bad ones with 400 like envoy', async () => {
    const { server, dev, advance } = await rig({ adminPort: 0 });
    await register(dev);
    server.handler.createProgram({ site: '1' });
    const [control] = server.handler.createControl({ site: '1', duration: 300, opModImpLimW: 0 });
    const listed = decode('DERControlList', await dev.get('/edev/1/derp/1/derc')).controls[0]!;
    advance(3);
    const ok = await dev.post(listed.replyTo!, response(listed.mrid.toLowerCase(), 1, LFDI.toLowerCase(), T0 + 2));
    expect(ok.status).toBe(201);
    expect(ok.headers.location).toBe('/edev/1/rsps/site_control/rsp/1');
    expect(ok.text).toBe('');
    const plain = await dev.post(listed.replyTo!, `<Response xmlns="${SEP_NS}"><endDeviceLFDI>${LFDI}</endDeviceLFDI><status>2</status><subject>${control!.mrid}</subject></Response>`);
    expect(plain.status).toBe(201);
    expect(server.handler.state.responses).toMatchObject([
      { seq: 1, href: '/edev/1/rsps/site_control/rsp/1', site: '1', subject: control!.mrid.toLowerCase(), controlHref: control!.href, status: 1, createdDateTime: T0 + 2, receivedAtMs: (T0 + 3) * 1000 },
      { seq: 2, site: '1', status: 2, createdDateTime: undefined },
    ]);

    const bad: [string, string, number, RegExp][] = [
      ['unknown subject', response('0123456789ABCDEF0123456789ABCDEF', 1), 400, /references a DOE not available/],
      ['another LFDI', response(control!.mrid, 1, OTHER), 400, /doesn't match EndDevice with ID 1/],
      ['not hex', response('XYZ', 1), 400, /subject|Schema/],
      ['wrong root', `<DERControl xmlns="${SEP_NS}"/>`, 400, /Expected a DERControlResponse document/],
      ['no namespace', `<DERControlResponse><endDeviceLFDI>${LFDI}</endDeviceLFDI><subject>${control!.mrid}</subject></DERControlResponse>`, 400, /namespace/],
      ['no subject', `<DERControlResponse xmlns="${SEP_NS}"><endDeviceLFDI>${LFDI}</endDeviceLFDI></DERControlResponse>`, 400, /subject/],
      ['empty', '', 400, /empty/],
    ];
    if (xsd) bad.push(['out of schema order', `<DERControlResponse xmlns="${SEP_NS}"><subject>${control!.mrid}</subject><endDeviceLFDI>${LFDI}</endDeviceLFDI></DERControlResponse>`, 400, /^Schema validation failed/]);
    for (const [label, body, status, message] of bad) {
      const res = await dev.post('/edev/1/rsps/site_control/rsp', body);
      expect({ label, status: res.status }).toEqual({ label, status });
      expect(parseXml(res.text).body.message).toMatch(message);
    }
    expect((await dev.post('/edev/1/rsps/price/rsp', response(control!.mrid, 1))).status).toBe(404);
    const get = await dev.get('/edev/1/rsps/site_control/rsp');
    expect([get.status, get.headers.allow]).toEqual([405, 'POST']);
    expect((await sep2Client(server.url, { headers: { 'x-forwarded-client-cert': OTHER } }).post('/edev/1/rsps/site_control/rsp', response(control!.mrid, 1, OTHER))).status).toBe(404);
    expect(server.handler.state.responses).toHaveLength(2);

    const recorded = await admin(server, 'GET', '/_sim/responses?since=1');
    expect(recorded).toMatchObject({ status: 200, body: [{ seq: 2, subject: control!.mrid, status: 2 }] });
    expect((await admin(server, 'GET', '/_sim/responses?site=2')).body).toEqual([]);
    expect((await admin(server, 'GET', '/_sim/state')).body).toMatchObject({ now: T0 + 3, responses: 2, sites: [{ id: '1', programs: [{ id: 1, controls: [{ mrid: control!.mrid, currentStatus: 1 }] }] }] });
  });
});

describe('poll rates, defaults and admin errors', () => {
  it('serves pollRate per list as configured and as changed at run time; DERControlList has none', async () => {
    const { server, dev } = await rig({ preRegistered: [{ lfdi: LFDI }], pollRates: { DERProgramList: 120 } });
    server.handler.createProgram({});
    const rate = async (href: string) => xmlBody(await dev.get(href))['@_pollRate'];
    expect([await rate('/dcap'), await rate('/edev'), await rate('/edev/1/fsa'), await rate('/edev/1/fsa/1/derp'), await rate('/edev/1/der')]).toEqual(['60', '60', '60', '120', '60']);
    expect(await rate('/edev/1/derp/1/derc')).toBeUndefined();
    expect(server.handler.admin({ method: 'PUT', path: '/_sim/poll-rates', body: JSON.stringify({ FunctionSetAssignmentsList: 300, DERProgramList: 60, DeviceCapability: 30 }) }))
      .toMatchObject({ status: 200, body: { FunctionSetAssignmentsList: 300, DERProgramList: 60, DeviceCapability: 30, EndDeviceList: 60 } });
    expect([await rate('/dcap'), await rate('/edev/1/fsa'), await rate('/edev/1/fsa/1/derp')]).toEqual(['30', '300', '60']);
    expect(server.handler.admin({ method: 'PUT', path: '/_sim/poll-rates', body: { DERControlList: 5 } })).toMatchObject({ status: 400 });
  });

  it('sets, replaces and clears a DefaultDERControl (a new mRID each time; cleared → empty)', async () => {
    const { server, dev } = await rig({ preRegistered: [{ lfdi: LFDI }] });
    server.handler.createProgram({ defaultControl: { opModImpLimW: 0, opModExpLimW: 0, setGradW: 27 } });
    const before = decode('DefaultDERControl', await dev.get('/edev/1/derp/1/dderc'));
    expect(server.handler.setDefaultControl({ control: { opModImpLimW: 3000, opModLoadLimW: 3000, setGradW: 167 } })).toMatchObject([{ defaultControl: { setGradW: 167 } }]);
    const after = decode('DefaultDERControl', await dev.get('/edev/1/derp/1/dderc'));
    expect(after).toMatchObject({ setGradW: 167, base: { opModImpLimW: 3000, opModLoadLimW: 3000, opModExpLimW: undefined } });
    expect(after.mrid).not.toBe(before.mrid);
    server.handler.setDefaultControl({ site: '1', program: 1, control: null }); // LOA-03's "cancelled" default
    const cleared = xmlBody(await dev.get('/edev/1/derp/1/dderc')); // empty DERControlBase: see above
    expect(elementNames(cleared)).toEqual(['mRID', 'DERControlBase']);
    expect(cleared.DERControlBase).toBe('');
    expectSchemaValid(server);
  });

  it('answers bad admin input 400, unknown things 404 and conflicts 409', async () => {
    const { server } = await rig({ adminPort: 0 });
    const call = (method: string, path: string, body?: unknown) => admin(server, method, path, body);
    expect(await call('POST', '/_sim/programs', {})).toMatchObject({ status: 409, body: { error: 'conflict', message: 'No EndDevice is registered yet.' } });
    await register(sep2Client(server.url, { headers: { 'x-forwarded-client-cert': LFDI } }));
    expect((await call('POST', '/_sim/controls', { opModImpLimW: 0 })).body.message).toMatch(/duration/);
    expect((await call('POST', '/_sim/controls', { duration: 10, start: T0, startInS: 5 })).status).toBe(400);
    expect((await call('POST', '/_sim/controls', { duration: 10, opModImpLimW: { value: 40_000, multiplier: 0 } })).status).toBe(400);
    expect((await call('POST', '/_sim/controls', { duration: 10, randomizeStart: 4000 })).status).toBe(400);
    expect((await call('POST', '/_sim/controls', { duration: 10, colour: 'red' })).status).toBe(400);
    expect((await call('POST', '/_sim/controls', { duration: 10, mrid: '0x12' })).status).toBe(400);
    expect(await call('POST', '/_sim/controls', { site: '7', duration: 10 })).toMatchObject({ status: 404, body: { error: 'notFound' } });
    expect(await call('POST', '/_sim/controls', { program: 3, duration: 10 })).toMatchObject({ status: 404 });
    expect(await call('POST', '/_sim/controls', { duration: 10, mrid: 'AA' })).toMatchObject({ status: 201, body: [{ program: '/edev/1/derp/1' }] }); // program created (primacy 0)
    expect(await call('POST', '/_sim/controls', { duration: 10, mrid: 'aa' })).toMatchObject({ status: 409 });
    expect(await call('POST', '/_sim/controls/cancel', { mrid: 'BB' })).toMatchObject({ status: 404 });
    expect(await call('DELETE', '/_sim/programs')).toMatchObject({ status: 404, body: { error: 'notFound' } });
    expect(server.handler.admin({ method: 'POST', path: '/_sim/connections/refuse', body: { ms: 10 } })).toMatchObject({ status: 501 });
    const raw = await sep2Request(`${server.adminUrl}/_sim/programs`, { method: 'POST', body: '{not json', headers: { 'Content-Type': 'application/json' } });
    expect(raw.status).toBe(400);
    expect(() => server.handler.createControl({ duration: -1 })).toThrow(/control: duration/);
  });
});

describe('off the network and comms loss', () => {
  it('refuseFor closes the listener (connections refused) and reopens it on the same port', async () => {
    const { server, dev } = await rig({ adminPort: 0 });
    expect((await dev.get('/dcap')).status).toBe(200);
    server.refuseFor(300);
    await expect(dev.get('/dcap')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await eventually(async () => expect((await dev.get('/dcap')).status).toBe(200));
    expect(await admin(server, 'POST', '/_sim/connections/refuse', { ms: 200 })).toMatchObject({ status: 200 });
    await expect(dev.get('/tm')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await eventually(async () => expect((await dev.get('/tm')).status).toBe(200));
    expect(new URL(server.url).port).toBe(String(server.port));
  });

  it('answers every request with 500 while communications are disabled (ALL-23), for a while or until enabled', async () => {
    const { server, dev, advance } = await rig({ adminPort: 0, preRegistered: [{ lfdi: LFDI }] });
    server.handler.createProgram({ defaultControl: { opModImpLimW: 0 } });
    expect(await admin(server, 'PUT', '/_sim/communications', { enabled: false })).toMatchObject({ status: 200, body: { enabled: false, untilMs: null } });
    for (const href of ['/dcap', '/edev/1/derp/1/dderc', '/nowhere']) {
      const res = await dev.get(href);
      expect([res.status, res.text, res.headers['content-type']]).toEqual([500, COMMS_DISABLED_BODY, 'text/plain']);
    }
    expect((await dev.post('/edev/1/rsps/site_control/rsp', response('AA', 1))).status).toBe(500);
    expect(server.requests.at(-1)).toMatchObject({ method: 'POST', status: 500, responseBody: COMMS_DISABLED_BODY });
    server.handler.setCommunications({ enabled: true });
    expect((await dev.get('/edev/1/derp/1/dderc')).status).toBe(200);

    server.handler.setCommunications({ enabled: false, forMs: 420_000 }); // timed on the server clock
    advance(419);
    expect((await dev.get('/dcap')).status).toBe(500);
    advance(1);
    expect((await dev.get('/dcap')).status).toBe(200);
    expect((await admin(server, 'GET', '/_sim/state')).body.communications).toEqual({ enabled: true, untilMs: null });
  });
});

async function eventually(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; ;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
