/**
 * More CACTUS class A procedures (docs/csip-aus-der-client.md §1), compressed as in cactus-der.test.ts:
 * ALL-11 (energise and de-energise: the limit side; the DERStatus it reports is the telemetry's), ALL-19 (a changed
 * FunctionSetAssignmentsList pollRate is taken from the very answer that carries it), ALL-20 (DERProgramList
 * pollRate changes, slower then faster), ALL-22 (randomizeStart: each start drawn within its window, not all alike).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { last, only, RATED_W, rig as cactusRig, sleep, until, type Closer, type Rig } from '../helpers/cactus-rig.js';

const closers: Closer[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
const gets = (r: Rig, path: string, fromMs = 0): number[] =>
  r.server.requests.filter((q) => q.atMs >= fromMs && q.method === 'GET' && q.path.split('?')[0] === path && q.status === 200).map((q) => q.atMs);

describe('CACTUS class A control procedures, compressed', () => {
  it('ALL-11 energise / de-energise: opModEnergize false takes the charge limit to 0 for its window, true gives it back', async () => {
    const r = await cactusRig(closers);
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: RATED_W, opModExpLimW: RATED_W } });
    const startS = Math.floor(Date.now() / 1000) + 1;
    const on = only(r.server.handler.createControl({ start: startS, duration: 3, opModEnergize: true }));
    const off = only(r.server.handler.createControl({ start: startS + 3, duration: 3, opModEnergize: false }));
    r.startClient();
    await until('energised', () => last(r)?.mrid === on.mrid, 3000);
    expect(last(r)).toMatchObject({ energize: true, chargeLimitW: RATED_W });
    const offAt = await until('de-energised', () => last(r)?.mrid === off.mrid, 5000);
    expect(last(r)).toMatchObject({ energize: false, chargeLimitW: 0, importLimitW: RATED_W });
    expect(offAt - (startS + 3) * 1000).toBeLessThan(1000);
    const backAt = await until('energised again (the default)', () => last(r)?.source === 'default', 5000);
    expect(last(r)).toMatchObject({ energize: null, chargeLimitW: RATED_W });
    expect(backAt - (startS + 6) * 1000).toBeLessThan(1000);
    await until('both 1, 2, 3', () => r.statuses(on.mrid).length >= 3 && r.statuses(off.mrid).length >= 3, 3000);
    expect([r.statuses(on.mrid), r.statuses(off.mrid)]).toEqual([[1, 2, 3], [1, 2, 3]]);
  }, 20_000);

  it('ALL-19 FSA poll rate: the rate changed in the first answer is followed from that answer on', async () => {
    // Init: the FSA list at 5 s ("300 s"); on the first GET, before the answer, 1 s ("60 s").
    const r = await cactusRig(closers, { server: { pollRates: { FunctionSetAssignmentsList: 5 } } });
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: RATED_W } });
    const fsa = `${r.edevPath}/fsa`;
    let changed = false;
    r.server.handler.beforeAnswer = ({ method, path }) => {
      if (!changed && method === 'GET' && path === fsa) {
        r.server.handler.setPollRates({ FunctionSetAssignmentsList: 1 });
        changed = true;
      }
    };
    const startedAt = Date.now();
    r.startClient();
    await until('the first FSA GET', () => gets(r, fsa, startedAt).length >= 1, 3000);
    // "Another GET /edev/1/fsa must arrive within the 120 s wait" (2 pollRates of the new rate).
    await until('a second FSA GET', () => gets(r, fsa, startedAt).length >= 2, 2500);
    const [first, second] = gets(r, fsa, startedAt);
    expect(second! - first!).toBeLessThan(1600);
    expect(second! - first!).toBeGreaterThan(700); // at the new rate, not at once
  }, 15_000);

  it('ALL-20 DERProgramList poll rate: slower (2 s) then faster (1 s), each followed from the answer that carries it', async () => {
    const r = await cactusRig(closers);
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: RATED_W } });
    const derp = `${r.edevPath}/fsa/1/derp`;
    const startedAt = Date.now();
    r.startClient();
    await until('the DERProgramList polled', () => gets(r, derp, startedAt).length >= 2, 4000);
    r.server.handler.setPollRates({ DERProgramList: 2 });
    const slowFrom = gets(r, derp).at(-1)! + 1100; // after the next answer carries the new rate
    await sleep(7000);
    const slow = gets(r, derp, slowFrom);
    expect(slow.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < slow.length; i += 1) expect(slow[i]! - slow[i - 1]!).toBeGreaterThan(1700);
    for (let i = 1; i < slow.length; i += 1) expect(slow[i]! - slow[i - 1]!).toBeLessThan(2600);
    // "On the next GET, the rate becomes 60 s. Another GET must arrive within the 90 s wait."
    let fastFrom = 0;
    r.server.handler.beforeAnswer = ({ method, path }) => {
      if (fastFrom === 0 && method === 'GET' && path === derp) {
        r.server.handler.setPollRates({ DERProgramList: 1 });
        fastFrom = Date.now();
      }
    };
    await until('the rate changed on a GET', () => fastFrom > 0, 3000);
    await until('another GET within 1.5 pollRates', () => gets(r, derp, fastFrom + 50).length >= 1, 1500);
  }, 20_000);

  it('ALL-22 randomisation: back-to-back controls with randomizeStart each start at their own draw within the window', async () => {
    const r = await cactusRig(closers);
    // Default Imp = Exp = 0; the controls carry only ExpLim (200 %), so an EVSE's import stays at the default 0.
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: 0, opModExpLimW: 0 } });
    const startS = Math.floor(Date.now() / 1000) + 2;
    const controls = [0, 1, 2, 3, 4].map((i) => only(r.server.handler.createControl({ start: startS + 4 * i, duration: 4, randomizeStart: 2, opModExpLimW: 2 * RATED_W })));
    r.startClient();
    await until('every control completed', () => controls.every((c) => r.statuses(c.mrid).includes(3)), (startS + 24) * 1000 - Date.now());
    const offsets = controls.map((c, i) => {
      const first = r.seen.find((s) => s.limit.mrid === c.mrid);
      expect(first, `control ${i} applied`).toBeDefined();
      const offsetMs = first!.atMs - (startS + 4 * i) * 1000;
      expect(offsetMs).toBeGreaterThanOrEqual(-50);
      expect(offsetMs).toBeLessThan(2000 + 800); // within randomizeStart, plus the evaluation's latency
      return Math.round(offsetMs / 1000);
    });
    expect(new Set(offsets).size).toBeGreaterThan(1); // drawn, not all the same
    for (const s of r.seen) expect(s.limit.chargeLimitW).toBe(0);
    for (const c of controls) expect(r.statuses(c.mrid)).toEqual([1, 2, 3]);
  }, 35_000);
});
