/**
 * The DER client over real sockets against a raw loopback 2030.5 server whose documents are written here by hand,
 * after the IEEE 2030.5 / CSIP-AUS schemas (each validated against the XSDs, when present), not by our own test
 * server: the charger follows the default control, then a control at its start and end, posts its responses in
 * order (received, started, completed), and keeps following what it knows while the server answers 500.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DerClientEmitted } from '../../machines/der-client.machine.js';
import { createDerClient, type DerClientActor } from '../../src/adapters/sep2/der-client.service.js';
import { Sep2Client } from '../../src/adapters/sep2/sep2.client.js';
import { parseXml } from '../../src/adapters/sep2/xml.js';
import { xsd } from '../helpers/xsd.js';

const LFDI = '3E4F45AB31EDFE5B67E343E5E4562E31984E23E5';
const NS = 'xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns"';
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Posted { at: number; path: string; body: string; subject: string; status: number }

/** A server of one EndDevice with one program: a default import limit of 1500 W and the controls given. */
async function derServer(controls: () => string) {
  const posted: Posted[] = [];
  const gets: string[] = [];
  let failing = false;
  /** Per path: 'hang' (never answered) or a body served instead of the document. */
  let override: ((path: string) => string | undefined) | undefined;
  const power = (name: string, w: number) => `<csipaus:${name}><multiplier>0</multiplier><value>${w}</value></csipaus:${name}>`;
  const docs: Record<string, () => string> = {
    '/edev/1': () => `<EndDevice ${NS} href="/edev/1"><sFDI>167261211391</sFDI><changedTime>0</changedTime><FunctionSetAssignmentsListLink all="1" href="/edev/1/fsa"/></EndDevice>`,
    '/edev/1/fsa': () => `<FunctionSetAssignmentsList ${NS} all="1" href="/edev/1/fsa" results="1" pollRate="1"><FunctionSetAssignments href="/edev/1/fsa/1"><DERProgramListLink all="1" href="/edev/1/derp"/><mRID>0F01</mRID></FunctionSetAssignments></FunctionSetAssignmentsList>`,
    '/edev/1/derp': () => `<DERProgramList ${NS} all="1" href="/edev/1/derp" results="1" pollRate="1"><DERProgram href="/edev/1/derp/1"><mRID>0A01</mRID><DefaultDERControlLink href="/edev/1/derp/1/dderc"/><DERControlListLink all="1" href="/edev/1/derp/1/derc"/><primacy>1</primacy></DERProgram></DERProgramList>`,
    '/edev/1/derp/1/dderc': () => `<DefaultDERControl ${NS} href="/edev/1/derp/1/dderc"><mRID>0D01</mRID><DERControlBase>${power('opModImpLimW', 1500)}</DERControlBase></DefaultDERControl>`,
    '/edev/1/derp/1/derc': () => `<DERControlList ${NS} all="1" href="/edev/1/derp/1/derc" results="1">${controls()}</DERControlList>`,
  };
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      if (failing) {
        res.writeHead(500, { 'Content-Type': 'application/sep+xml' }).end();
        return;
      }
      if (req.method === 'POST' && path === '/rsp') {
        const body = Buffer.concat(chunks).toString();
        const doc = parseXml(body).body as Record<string, string>;
        posted.push({ at: Date.now(), path, body, subject: doc.subject!, status: Number(doc.status) });
        res.writeHead(201, { Location: `/rsp/${posted.length}` }).end();
        return;
      }
      const replaced = override?.(path);
      if (replaced === 'hang') return;
      if (replaced !== undefined) {
        gets.push(path);
        res.writeHead(200, { 'Content-Type': 'application/sep+xml' }).end(replaced);
        return;
      }
      const doc = docs[path];
      gets.push(path);
      if (!doc) res.writeHead(404).end();
      else res.writeHead(200, { 'Content-Type': 'application/sep+xml' }).end(doc());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  if (xsd) for (const [path, doc] of Object.entries(docs)) expect({ path, problems: xsd.validate(doc(), 'csipaus-1.2') }).toEqual({ path, problems: [] });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posted, gets,
    fail: (on: boolean) => { failing = on; },
    override: (f: typeof override) => { override = f; },
  };
}

const control = (mrid: string, startS: number, durationS: number, limitW: number) => `<DERControl replyTo="/rsp" responseRequired="03"><mRID>${mrid}</mRID><creationTime>${startS - 10}</creationTime>
  <EventStatus><currentStatus>0</currentStatus><dateTime>${startS - 10}</dateTime><potentiallySuperseded>false</potentiallySuperseded></EventStatus>
  <interval><duration>${durationS}</duration><start>${startS}</start></interval>
  <DERControlBase><csipaus:opModImpLimW><multiplier>0</multiplier><value>${limitW}</value></csipaus:opModImpLimW></DERControlBase></DERControl>`;

function start(url: string, restored?: Parameters<typeof createDerClient>[0]['restored']): { actor: DerClientActor; events: DerClientEmitted[]; limits: () => (number | null)[] } {
  const client = new Sep2Client({ baseUrl: url, timeoutMs: 1000 });
  closers.push(() => client.close());
  const { actor } = createDerClient({ client, site: 'site-1', lfdi: LFDI, endDeviceHref: '/edev/1', endDeviceRateS: 1, ratedW: 22_000, retryMs: 300, restored });
  const events: DerClientEmitted[] = [];
  actor.on('*', (e) => events.push(e as DerClientEmitted));
  actor.start();
  closers.push(() => void actor.stop());
  return { actor, events, limits: () => events.flatMap((e) => (e.type === 'grid.limit' ? [e.limit.chargeLimitW] : [])) };
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check();) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the DER client follows the utility', () => {
  it('applies the default, then the control from its start to its end, and responds received, started, completed', async () => {
    const startS = Math.floor(Date.now() / 1000) + 2;
    const s = await derServer(() => control('C0FFEE01', startS, 2, 5000));
    const { events, limits } = start(s.url);
    await until(() => limits().length >= 1, 3000);
    expect(events.find((e) => e.type === 'grid.limit')).toMatchObject({ limit: { site: 'site-1', source: 'default', mrid: '0D01', importLimitW: 1500, chargeLimitW: 1500, validUntil: null } });
    await until(() => limits().includes(5000), 4000);
    const active = events.filter((e) => e.type === 'grid.limit').at(-1)!;
    expect(active).toMatchObject({ limit: { source: 'control', mrid: 'C0FFEE01', chargeLimitW: 5000, validUntil: new Date((startS + 2) * 1000).toISOString() } });
    // The limit reaches the control's value within a second of its start.
    const appliedAt = Date.now();
    expect(appliedAt - startS * 1000).toBeLessThan(1000);
    await until(() => limits().at(-1) === 1500 && s.posted.length >= 3, 5000);
    expect(limits()).toEqual([1500, 5000, 1500]);
    expect(s.posted.map((p) => [p.subject, p.status])).toEqual([['C0FFEE01', 1], ['C0FFEE01', 2], ['C0FFEE01', 3]]);
    for (const p of s.posted) {
      expect(p.body).toContain(`<endDeviceLFDI>${LFDI}</endDeviceLFDI>`);
      if (xsd) expect(xsd.validate(p.body, 'sep')).toEqual([]);
    }
    // Polls went on at the server's pollRate of 1 s, following its hrefs.
    expect(s.gets.filter((g) => g === '/edev/1/derp/1/derc').length).toBeGreaterThanOrEqual(3);
  });

  it('keeps following what it knows while the server answers 500, and posts the responses once it is back', async () => {
    const startS = Math.floor(Date.now() / 1000) + 2;
    const s = await derServer(() => control('C0FFEE02', startS, 1, 0));
    const { events, limits } = start(s.url);
    await until(() => s.posted.length >= 1, 3000);
    s.fail(true);
    // The control starts and ends on its own times during the outage, then the default applies again.
    await until(() => limits().join() === '1500,0,1500', 5000);
    expect(events.some((e) => e.type === 'poll.failed')).toBe(true);
    expect(s.posted.map((p) => p.status)).toEqual([1]);
    s.fail(false);
    await until(() => s.posted.length >= 3, 12_000);
    expect(s.posted.map((p) => [p.subject, p.status])).toEqual([['C0FFEE02', 1], ['C0FFEE02', 2], ['C0FFEE02', 3]]);
  });

  it('after a restart, applies what it kept at once, with the server down, and posts no status twice', async () => {
    const startS = Math.floor(Date.now() / 1000) + 2;
    const s = await derServer(() => control('C0FFEE03', startS, 60, 4000));
    const first = start(s.url);
    await until(() => s.posted.length >= 1 && first.events.some((e) => e.type === 'persist' && Object.keys(e.responded).length > 0), 3000);
    const kept = first.events.filter((e): e is Extract<DerClientEmitted, { type: 'persist' }> => e.type === 'persist').at(-1)!;
    first.actor.stop();
    // The server goes down with the charger; the new process has only the journal's copy.
    s.fail(true);
    const second = start(s.url, { programs: kept.programs, responded: kept.responded });
    await until(() => second.limits().includes(4000), 4000);
    expect(second.limits()[0]).toBe(1500); // the kept default, before the control's start
    expect(second.events.filter((e) => e.type === 'poll.failed').length).toBeGreaterThan(0);
    s.fail(false);
    await until(() => s.posted.length >= 2, 8000);
    // "received" was posted by the first process and is not posted again; "started" comes from the second.
    expect(s.posted.map((p) => p.status)).toEqual([1, 2]);
  });

  it('rejects a control it cannot apply, with the reason, and never applies it', async () => {
    const startS = Math.floor(Date.now() / 1000);
    const bad = `<DERControl replyTo="/rsp" responseRequired="03"><mRID>BAD0</mRID><creationTime>${startS - 10}</creationTime>
      <EventStatus><currentStatus>1</currentStatus><dateTime>${startS - 10}</dateTime><potentiallySuperseded>false</potentiallySuperseded></EventStatus>
      <interval><duration>60</duration><start>${startS - 1}</start></interval><DERControlBase><opModVoltVar href="/curve/1"/></DERControlBase></DERControl>`;
    const s = await derServer(() => bad);
    const { events, limits } = start(s.url);
    await until(() => s.posted.length >= 2, 3000);
    expect(s.posted.map((p) => [p.subject, p.status])).toEqual([['BAD0', 1], ['BAD0', 252]]);
    expect(events.find((e) => e.type === 'rejected')).toMatchObject({ mrid: 'BAD0', status: 252, reason: expect.stringMatching(/opModVoltVar/) });
    expect(limits()).toEqual([1500]);
  });

  describe('bad input from the server: a clear reason, the last good limit stays, nothing crashes', () => {
    const startS = () => Math.floor(Date.now() / 1000);
    const derc = (body: string) => `<DERControlList ${NS} all="1" href="/edev/1/derp/1/derc" results="1">${body}</DERControlList>`;
    const cases: [string, (now: number) => string, RegExp][] = [
      ['truncated XML', (now) => derc(control('0C02', now - 1, 60, 900)).slice(0, 200), /XML|unexpected|closed|tag/i],
      ['an HTML error page', () => '<html><body><h1>502 Bad Gateway</h1></body></html>', /DERControlList|html/i],
      ['a negative duration (fails the schema)', (now) => derc(control('0C02', now - 1, 60, 900).replace('<duration>60</duration>', '<duration>-60</duration>')), /duration/i],
      ['a multiplier out of range', (now) => derc(control('0C02', now - 1, 60, 900).replace('<multiplier>0</multiplier>', '<multiplier>99</multiplier>')), /multiplier/i],
      ['an empty body', () => '', /empty|XML|DERControlList/i],
      ['a hanging server', () => 'hang', /timed out|timeout/i],
    ];
    for (const [name, bad, reason] of cases) {
      it(`${name}: poll.failed with the reason; the control in force goes on`, async () => {
        const now = startS();
        const s = await derServer(() => control('0C01', now - 1, 60, 700));
        const { events, limits } = start(s.url);
        await until(() => limits().at(-1) === 700, 3000);
        s.override((path) => (path === '/edev/1/derp/1/derc' ? bad(startS()) : undefined));
        await until(() => events.some((e) => e.type === 'poll.failed'), 4000);
        const failed = events.find((e) => e.type === 'poll.failed');
        expect(failed && failed.type === 'poll.failed' ? failed.error : '').toMatch(reason);
        await new Promise((resolve) => setTimeout(resolve, 1200));
        expect(limits().at(-1)).toBe(700); // the last good limit stays
        expect(s.posted.filter((p) => p.subject === '0C02')).toEqual([]); // the bad version was never taken
        // The server recovers: the client reads it again and goes on.
        const mark = events.length;
        s.override(undefined);
        await until(() => events.slice(mark).some((e) => e.type === 'polled'), 3000);
        expect(limits().at(-1)).toBe(700);
      }, 15_000);
    }

    it('a negative limit: rejected as invalid (253) with the reason, never applied', async () => {
      const now = startS();
      const s = await derServer(() => control('0C03', now - 1, 60, 700).replace('<value>700</value>', '<value>-700</value>'));
      const { events, limits } = start(s.url);
      await until(() => s.posted.length >= 2, 3000);
      expect(s.posted.map((p) => [p.subject, p.status])).toEqual([['0C03', 1], ['0C03', 253]]);
      expect(events.find((e) => e.type === 'rejected')).toMatchObject({ mrid: '0C03', reason: expect.stringMatching(/negative/) });
      expect(limits()).toEqual([1500]);
    });
  });
});

