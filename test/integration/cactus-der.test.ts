/**
 * CACTUS client procedures for a class A + L client (EVSE), played against the test server over mutual TLS on a
 * compressed time scale (docs/csip-aus-der-client.md §1): the server advertises a pollRate of 1 s for the
 * FunctionSetAssignmentsList and the DERProgramList, controls last a few seconds, and the DER client (a real
 * Sep2Client, on the EndDevice it registered; test/helpers/cactus-rig.ts) takes them as given. Assertions are on what the server
 * recorded (responses, requests) and on the client's `grid.limit` events, never on internals.
 *
 * LOA-01 / LOA-02 (superseded import / load limit), LOA-03 (default import limit follows, then cleared), ALL-23
 * (communication loss: the cached schedule, then the cached default, then the new control once back), ALL-18
 * (responses: received for every control, 6 for cancelled ones, before or after their start), ALL-21 (back-to-back
 * controls, each 1, 2, 3, and the poll timing).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { last, only, RATED_W, rig as cactusRig, sleep, until, type Closer } from '../helpers/cactus-rig.js';

const closers: Closer[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
const rig = () => cactusRig(closers);

describe('CACTUS load procedures (class L), compressed', () => {
  it('LOA-01 active import limit: a superseding ImpLim 0 in the same program takes the limit to 0 at the next poll; 1,2,7 then 1,2', async () => {
    const r = await rig();
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: RATED_W, opModExpLimW: RATED_W } });
    const first = only(r.server.handler.createControl({ startInS: 0, duration: 30, opModImpLimW: 2 * RATED_W }));
    r.startClient();
    await until('the first control active', () => last(r)?.mrid === first.mrid && last(r)?.importLimitW === 2 * RATED_W, 4000);
    await until('1, 2 for the first control', () => r.statuses(first.mrid).length >= 2, 3000);
    expect(r.statuses(first.mrid)).toEqual([1, 2]);

    // "On GET derp: a new control ImpLim = 0 starts now", same program, overlapping: the server marks the first superseded.
    const [second, superseded] = r.server.handler.supersedeControl({ supersede: first.mrid, startInS: 0, duration: 30, opModImpLimW: 0 });
    expect(superseded).toMatchObject({ mrid: first.mrid, currentStatus: 4 });
    const createdAt = Date.now();
    const appliedAt = await until('the limit at 0', () => last(r)?.chargeLimitW === 0, 4000);
    // CACTUS allows about 30 s at a 60 s poll; here one poll of 1 s plus the fetch (2.5 s).
    expect(appliedAt - createdAt).toBeLessThan(2500);
    expect(last(r)).toMatchObject({ source: 'control', mrid: second!.mrid, importLimitW: 0, chargeLimitW: 0 });
    await until('7 for the first, 1, 2 for the second', () => r.statuses(first.mrid).length >= 3 && r.statuses(second!.mrid).length >= 2, 3000);
    await sleep(1200); // one more poll: nothing else is posted
    expect(r.statuses(first.mrid)).toEqual([1, 2, 7]);
    expect(r.statuses(second!.mrid)).toEqual([1, 2]);
  }, 15_000);

  it('LOA-02 active load limit: the same with opModLoadLimW (default Imp = max, Exp = 0)', async () => {
    const r = await rig();
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: RATED_W, opModExpLimW: 0 } });
    const first = only(r.server.handler.createControl({ startInS: 0, duration: 30, opModLoadLimW: 2 * RATED_W }));
    r.startClient();
    await until('the first control active', () => last(r)?.mrid === first.mrid && last(r)?.loadLimitW === 2 * RATED_W, 4000);
    expect(last(r)).toMatchObject({ importLimitW: RATED_W, chargeLimitW: RATED_W }); // the default's ImpLim still applies
    await until('1, 2 for the first control', () => r.statuses(first.mrid).length >= 2, 3000);

    const [second] = r.server.handler.supersedeControl({ supersede: first.mrid, startInS: 0, duration: 30, opModLoadLimW: 0 });
    const createdAt = Date.now();
    const appliedAt = await until('the limit at 0', () => last(r)?.chargeLimitW === 0, 4000);
    expect(appliedAt - createdAt).toBeLessThan(2500);
    expect(last(r)).toMatchObject({ source: 'control', mrid: second!.mrid, loadLimitW: 0, chargeLimitW: 0 });
    await until('7 for the first, 1, 2 for the second', () => r.statuses(first.mrid).length >= 3 && r.statuses(second!.mrid).length >= 2, 3000);
    await sleep(1200);
    expect(r.statuses(first.mrid)).toEqual([1, 2, 7]);
    expect(r.statuses(second!.mrid)).toEqual([1, 2]);
  }, 15_000);

  it('LOA-03 default import limit: with no control the limit follows the default at the next poll; a cleared default means no limit', async () => {
    const r = await rig();
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: RATED_W } });
    r.startClient();
    await until('the default', () => last(r)?.chargeLimitW === RATED_W, 4000);
    expect(last(r)).toMatchObject({ source: 'default', importLimitW: RATED_W, validUntil: null });

    r.server.handler.setDefaultControl({ control: { opModImpLimW: 0.3 * RATED_W } });
    let changedAt = Date.now();
    let appliedAt = await until('the 30 % default', () => last(r)?.chargeLimitW === 0.3 * RATED_W, 4000);
    expect(appliedAt - changedAt).toBeLessThan(2500);
    expect(last(r)).toMatchObject({ source: 'default', importLimitW: 0.3 * RATED_W });

    // The default "cancelled": envoy then serves an empty DefaultDERControl.
    r.server.handler.setDefaultControl({ control: null });
    changedAt = Date.now();
    appliedAt = await until('no limit', () => r.seen.length > 0 && last(r)!.chargeLimitW === null, 4000);
    expect(appliedAt - changedAt).toBeLessThan(2500);
    expect(last(r)).toMatchObject({ importLimitW: null, loadLimitW: null, chargeLimitW: null });
  }, 15_000);
});

describe('CACTUS class A procedures, compressed', () => {
  it('ALL-23 communication loss: runs the cached schedule, then the cached default 0, and reads the new control once back', async () => {
    const r = await rig();
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: 0, opModExpLimW: 0 } });
    // Five back-to-back 2 s controls at 200 %, 20 %, 180 %, 70 %, 130 % of max, from 3 s from now.
    const fractions = [2, 0.2, 1.8, 0.7, 1.3];
    const startS = Math.floor(Date.now() / 1000) + 3;
    const controls = fractions.map((f, i) => only(r.server.handler.createControl({ start: startS + 2 * i, duration: 2, opModImpLimW: Math.round(f * RATED_W), opModExpLimW: Math.round(f * RATED_W) })));
    r.startClient();
    // After the first poll (every control received), every request answers 500 until the schedule is over.
    await until('received for every control', () => controls.every((c) => r.statuses(c.mrid).includes(1)), 3000);
    r.server.handler.setCommunications({ enabled: false });
    const downAt = Date.now();
    expect(downAt).toBeLessThan(startS * 1000);
    const endMs = (startS + 10) * 1000;
    await until('the schedule over and the default 0 applied', () => Date.now() > endMs && last(r)?.source === 'default', endMs - Date.now() + 2000);
    await sleep(Math.max(0, endMs + 1500 - Date.now())); // down for longer than the schedule
    const down = r.server.requests.filter((q) => q.atMs >= downAt);
    expect(down.length).toBeGreaterThan(3); // the client kept polling
    expect(down.every((q) => q.status === 500)).toBe(true);

    const during = r.seen.filter((s) => s.atMs >= downAt);
    const fromControls = during.filter((s) => s.limit.source === 'control');
    expect(fromControls.map((s) => s.limit.mrid)).toEqual(controls.map((c) => c.mrid));
    expect(fromControls.map((s) => s.limit.importLimitW)).toEqual(fractions.map((f) => Math.round(f * RATED_W)));
    fromControls.forEach((s, i) => {
      const due = (startS + 2 * i) * 1000;
      expect(s.atMs).toBeGreaterThanOrEqual(due - 50);
      expect(s.atMs - due).toBeLessThan(1000);
    });
    const fallback = during.at(-1)!;
    expect(fallback.limit).toMatchObject({ source: 'default', importLimitW: 0, exportLimitW: 0, chargeLimitW: 0 });
    expect(fallback.atMs - endMs).toBeLessThan(1000);

    // Comms restored and a new control (200 %) starts now: the client GETs the DERControlList and applies it.
    r.server.handler.setCommunications({ enabled: true });
    const upAt = Date.now();
    const fresh = only(r.server.handler.createControl({ startInS: 0, duration: 10, opModImpLimW: 2 * RATED_W, opModExpLimW: 2 * RATED_W }));
    const derc = `${r.edevPath}/derp/1/derc`;
    await until('a DERControlList GET', () => r.server.requests.some((q) => q.atMs >= upAt && q.method === 'GET' && q.path === derc && q.status === 200), 2500);
    await until('the new control applied', () => last(r)?.mrid === fresh.mrid, 2500);
    expect(last(r)).toMatchObject({ source: 'control', importLimitW: 2 * RATED_W });
    expect(Date.now() - upAt).toBeLessThan(3000);
  }, 30_000);

  it('ALL-21 scheduling: back-to-back controls each apply at their start and get 1, 2, 3; polls keep to the pollRate', async () => {
    const r = await rig();
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: 0, opModExpLimW: 0 } });
    const fractions = [0.1, 0.5, 0.3, 1];
    const startS = Math.floor(Date.now() / 1000) + 2;
    const controls = fractions.map((f, i) => only(r.server.handler.createControl({ start: startS + i, duration: 1, opModImpLimW: Math.round(f * RATED_W), opModExpLimW: Math.round(f * RATED_W) })));
    const startedAt = Date.now();
    r.startClient();
    const endMs = (startS + fractions.length) * 1000;
    await until('every control 1, 2, 3', () => controls.every((c) => r.statuses(c.mrid).length >= 3), endMs - Date.now() + 3000);
    for (const c of controls) expect(r.statuses(c.mrid)).toEqual([1, 2, 3]);
    const applied = r.seen.filter((s) => s.limit.source === 'control');
    expect(applied.map((s) => s.limit.mrid)).toEqual(controls.map((c) => c.mrid));
    applied.forEach((s, i) => expect(s.atMs - (startS + i) * 1000).toBeLessThan(1000));
    expect(last(r)).toMatchObject({ source: 'default', chargeLimitW: 0 });
    // all-polls-at-correct-time, scaled: no gap over 1.5 pollRates, and at most 6 GETs of a list in any 3 pollRates.
    const derp = r.server.requests.filter((q) => q.atMs >= startedAt && q.method === 'GET' && q.path.endsWith('/fsa/1/derp')).map((q) => q.atMs);
    expect(derp.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < derp.length; i += 1) expect(derp[i]! - derp[i - 1]!).toBeLessThan(1500);
    for (const t of derp) expect(derp.filter((u) => u >= t && u < t + 3000).length).toBeLessThanOrEqual(6);
  }, 15_000);

  it('ALL-18 control responses: 1, 2, 3 for a completed control; 1 then 6 for controls cancelled before and after their start', async () => {
    const r = await rig();
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: 0, opModExpLimW: 0 } });
    const derc1 = only(r.server.handler.createControl({ startInS: 0, duration: 2, opModImpLimW: 2 * RATED_W, opModExpLimW: 2 * RATED_W }));
    r.startClient();
    await until('DERC1 1, 2, 3', () => r.statuses(derc1.mrid).length >= 3, 5000);
    expect(r.statuses(derc1.mrid)).toEqual([1, 2, 3]);

    // DERC2 started, then every control cancelled: 6.
    const derc2 = only(r.server.handler.createControl({ startInS: 0, duration: 20, opModImpLimW: 2 * RATED_W, opModExpLimW: 2 * RATED_W }));
    await until('DERC2 1, 2', () => r.statuses(derc2.mrid).length >= 2, 3000);
    r.server.handler.cancelControl({});
    await until('DERC2 6', () => r.statuses(derc2.mrid).length >= 3, 3000);
    expect(r.statuses(derc2.mrid)).toEqual([1, 2, 6]);
    await until('the default again', () => last(r)?.source === 'default', 2000);

    // DERC3 scheduled later, cancelled before it starts: 1, then 6, and never started.
    const derc3 = only(r.server.handler.createControl({ startInS: 30, duration: 10, opModImpLimW: 0 }));
    await until('DERC3 1', () => r.statuses(derc3.mrid).length >= 1, 3000);
    r.server.handler.cancelControl({});
    await until('DERC3 6', () => r.statuses(derc3.mrid).length >= 2, 3000);
    await sleep(1200);
    expect(r.statuses(derc3.mrid)).toEqual([1, 6]);
    expect(r.seen.some((s) => s.limit.mrid === derc3.mrid)).toBe(false);

    // DERC4 scheduled; a newer control nested inside it in the same program: DERC4 gets 7 before it starts.
    const derc4 = only(r.server.handler.createControl({ startInS: 30, duration: 30, opModImpLimW: 2 * RATED_W }));
    await until('DERC4 1', () => r.statuses(derc4.mrid).length >= 1, 3000);
    const nested = only(r.server.handler.createControl({ startInS: 40, duration: 5, opModImpLimW: 0 }));
    await until('DERC4 7', () => r.statuses(derc4.mrid).includes(7), 3000);
    await until('the nested control received', () => r.statuses(nested.mrid).includes(1), 3000);
    expect(r.statuses(derc4.mrid)).toEqual([1, 7]);

    // Criteria: every control, cancelled ones included, has a "received".
    for (const c of [derc1, derc2, derc3, derc4, nested]) expect(r.statuses(c.mrid)[0]).toBe(1);
    for (const response of r.server.handler.state.responses) expect(response.site).toBe(r.edevPath.split('/').at(-1));
  }, 25_000);
});
