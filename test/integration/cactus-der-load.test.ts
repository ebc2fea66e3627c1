/**
 * CACTUS load procedures for an EVSE (classes L and DER-L, docs/csip-aus-der-client.md §1), compressed as in
 * cactus-der.test.ts: poll rates of 1 s, controls of a few seconds, and ramp rates (setGradW) scaled by the same
 * factor, so a ramp that takes a minute in the procedure takes about a second here.
 *
 * LOA-04 (default load limit), LOA-09 (cancelled import control), LOA-10 (primacy across programs, per mode),
 * LOA-11 / LOA-12 (variable import / load limit), LOA-13 and ALT-LOA-13 (tracking the import limit through a
 * variable site load, with a site meter).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { last, only, RATED_W, rig as cactusRig, sleep, until, type Closer, type Rig } from '../helpers/cactus-rig.js';

const closers: Closer[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
const rig = () => cactusRig(closers);
const pct = (p: number): number => Math.round((p / 100) * RATED_W);
const charge = (r: Rig) => last(r)?.chargeLimitW;
/** The charge limits emitted since `fromMs`. */
const limitsSince = (r: Rig, fromMs: number) => r.seen.filter((s) => s.atMs >= fromMs).map((s) => s.limit.chargeLimitW);

describe('CACTUS class L load procedures, compressed', () => {
  it('LOA-04 default load limit: follows the default LoadLim by its setGradW, a control over it, and a cancelled default', async () => {
    const r = await rig();
    // Default Imp = Exp = max, LoadLim 30 %, setGradW 5000 (50 %/s: the procedure's 167, about 30 times faster).
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: RATED_W, opModExpLimW: RATED_W, opModLoadLimW: pct(30), setGradW: 5000 } });
    const derc1 = only(r.server.handler.createControl({ startInS: 0, duration: 30, opModLoadLimW: pct(200) }));
    r.startClient();
    await until('the control: LoadLim 200 %, capped by the default ImpLim', () => last(r)?.mrid === derc1.mrid && charge(r) === RATED_W, 4000);
    expect(last(r)).toMatchObject({ source: 'control', loadLimitW: pct(200), importLimitW: RATED_W });

    // Cancelled: back to the 30 % default, ramped at 50 %/s (1.4 s from 100 % to 30 %), not stepped.
    r.server.handler.cancelControl({ mrid: derc1.mrid });
    const cancelledAt = Date.now();
    const reachedAt = await until('the 30 % default', () => charge(r) === pct(30), 5000);
    const path = limitsSince(r, cancelledAt);
    expect(path.some((w) => w !== null && w < RATED_W && w > pct(30))).toBe(true); // a point on the ramp
    for (let i = 1; i < path.length; i += 1) expect(path[i]!).toBeLessThanOrEqual(path[i - 1]!); // monotone
    expect(reachedAt - cancelledAt).toBeGreaterThan(1000); // the ramp takes its time
    await until('DERC1 cancelled', () => r.statuses(derc1.mrid).includes(6), 3000);
    expect(r.statuses(derc1.mrid)).toEqual([1, 2, 6]);

    // A new control LoadLim 200 % for 3 s: up to 100 % (capped by ImpLim), then back to the default at its end.
    const derc2 = only(r.server.handler.createControl({ startInS: 0, duration: 3, opModLoadLimW: pct(200) }));
    await until('DERC2 applied', () => last(r)?.mrid === derc2.mrid && charge(r) === RATED_W, 5000);
    await until('the default again after DERC2', () => last(r)?.source === 'default' && charge(r) === pct(30), 7000);
    expect(r.statuses(derc2.mrid)).toEqual([1, 2, 3]);

    // A control LoadLim 0, and the default cancelled (envoy serves it empty): the limit goes to 0 at once.
    const derc3 = only(r.server.handler.createControl({ startInS: 0, duration: 30, opModLoadLimW: 0 }));
    r.server.handler.setDefaultControl({ control: null });
    await until('LoadLim 0', () => last(r)?.mrid === derc3.mrid && charge(r) === 0, 4000);
    await until('the default gone', () => last(r)?.importLimitW === null, 4000); // the two may be read at different polls
    expect(last(r)).toMatchObject({ source: 'control', loadLimitW: 0, importLimitW: null, exportLimitW: null });
  }, 30_000);
});

describe('CACTUS class DER-L load procedures, compressed', () => {
  it('LOA-09 cancelled import control: a control created on the DERProgramList poll, cancelled, and the 30 % default again', async () => {
    const r = await rig();
    r.server.handler.createProgram({ primacy: 0, defaultControl: { opModExpLimW: 0, opModImpLimW: pct(30), setGradW: 36_000 } });
    let derc1: string | undefined;
    // "On GET /edev/1/fsa/1/derp: DERC1, Imp = Exp = 200 % for 300 s", made before the server answers that GET.
    r.server.handler.beforeAnswer = ({ method, path }) => {
      if (derc1 === undefined && method === 'GET' && path === `${r.edevPath}/fsa/1/derp`) {
        derc1 = only(r.server.handler.createControl({ startInS: 0, duration: 30, opModImpLimW: pct(200), opModExpLimW: pct(200) })).mrid;
      }
    };
    r.startClient();
    await until('DERC1 applied', () => derc1 !== undefined && last(r)?.mrid === derc1, 4000);
    expect(last(r)).toMatchObject({ source: 'control', importLimitW: pct(200), exportLimitW: pct(200), chargeLimitW: pct(200) });
    await sleep(1500);
    // "On GET /edev/1/derp/1/derc: cancel all controls"; import must drop to the 30 % default.
    let cancelledAt = 0;
    r.server.handler.beforeAnswer = ({ method, path }) => {
      if (cancelledAt === 0 && method === 'GET' && path === `${r.edevPath}/derp/1/derc`) {
        r.server.handler.cancelControl({});
        cancelledAt = Date.now();
      }
    };
    const droppedAt = await until('the 30 % default', () => cancelledAt > 0 && last(r)?.source === 'default' && charge(r) === pct(30), 5000);
    expect(droppedAt - cancelledAt).toBeLessThan(2500);
    await until('DERC1 6', () => r.statuses(derc1!).includes(6), 3000);
    expect(r.statuses(derc1!)).toEqual([1, 2, 6]);
  }, 20_000);

  it('LOA-10 primacy for loads: a higher-priority control supersedes (7) a control whose modes it sets; each mode from the best control', async () => {
    const r = await rig();
    // derp1 at primacy 1 (default ImpLim 30 %), derp6 at primacy 2 (default 0/0); more programs without defaults.
    const [p1] = r.server.handler.createProgram({ primacy: 1, defaultControl: { opModImpLimW: pct(30), opModExpLimW: 0, setGradW: 36_000 } });
    for (let i = 0; i < 2; i += 1) r.server.handler.createProgram({ primacy: 1 });
    const [p6] = r.server.handler.createProgram({ primacy: 2, defaultControl: { opModImpLimW: 0, opModExpLimW: 0, setGradW: 36_000 } });
    for (let i = 0; i < 2; i += 1) r.server.handler.createProgram({ primacy: 2 });
    r.startClient();
    await until('the derp1 default (30 %), not derp6\'s', () => last(r)?.source === 'default' && charge(r) === pct(30), 5000);

    // c–h: DERC1 in derp6 (ImpLim 200 %) starts; then DERC2 in derp1 (ImpLim 0): DERC2 started, DERC1 superseded.
    const derc1 = only(r.server.handler.createControl({ program: p6!.id, startInS: 0, duration: 40, opModImpLimW: pct(200) }));
    await until('DERC1 applied', () => last(r)?.mrid === derc1.mrid && charge(r) === pct(200), 4000);
    const derc2 = only(r.server.handler.createControl({ program: p1!.id, startInS: 0, duration: 3, opModImpLimW: 0 }));
    await until('DERC2 applied', () => last(r)?.mrid === derc2.mrid && charge(r) === 0, 4000);
    await until('DERC1 7, DERC2 2', () => r.statuses(derc1.mrid).includes(7) && r.statuses(derc2.mrid).includes(2), 3000);
    expect(r.statuses(derc1.mrid)).toEqual([1, 2, 7]);
    // DERC2 completes; DERC1 stays superseded (never applied again), the derp1 default applies.
    await until('DERC2 3', () => r.statuses(derc2.mrid).includes(3), 6000);
    await until('the derp1 default again', () => last(r)?.source === 'default' && charge(r) === pct(30), 3000);
    expect(r.statuses(derc1.mrid)).toEqual([1, 2, 7]);

    // m–r: DERC4 in derp1 (LoadLim 0 + disconnect) and DERC5 in derp6 (ImpLim 200 %): different modes, both started.
    const derc4 = only(r.server.handler.createControl({ program: p1!.id, startInS: 0, duration: 3, opModLoadLimW: 0, opModConnect: false }));
    const derc5 = only(r.server.handler.createControl({ program: p6!.id, startInS: 0, duration: 40, opModImpLimW: pct(200) }));
    await until('DERC4 and DERC5 started', () => r.statuses(derc4.mrid).includes(2) && r.statuses(derc5.mrid).includes(2), 4000);
    expect(last(r)).toMatchObject({ connect: false, loadLimitW: 0, importLimitW: pct(200), chargeLimitW: 0 });
    await until('DERC4 3, then DERC5 alone', () => r.statuses(derc4.mrid).includes(3) && last(r)?.connect === null && charge(r) === pct(200), 6000);
    expect(r.statuses(derc5.mrid)).toEqual([1, 2]);

    // v–x: DERC7 in derp1 (ImpLim 0) and DERC8 in derp6 (ImpLim 50 % + LoadLim 30 %): both started, ImpLim from
    // DERC7, LoadLim from DERC8; DERC5 (derp6, ImpLim) is superseded by DERC7's ImpLim.
    const derc7 = only(r.server.handler.createControl({ program: p1!.id, startInS: 0, duration: 20, opModImpLimW: 0 }));
    const derc8 = only(r.server.handler.createControl({ program: p6!.id, startInS: 0, duration: 20, opModImpLimW: pct(50), opModLoadLimW: pct(30) }));
    await until('DERC7 and DERC8 started', () => r.statuses(derc7.mrid).includes(2) && r.statuses(derc8.mrid).includes(2), 4000);
    expect(last(r)).toMatchObject({ importLimitW: 0, loadLimitW: pct(30), chargeLimitW: 0 });
    await until('DERC5 7', () => r.statuses(derc5.mrid).includes(7), 3000);
    expect(r.statuses(derc5.mrid)).toEqual([1, 2, 7]);

    // bb–ee: new defaults (derp1 ImpLim 50 %, derp6 20 %), cancel all: the derp1 default of 50 % applies.
    r.server.handler.setDefaultControl({ program: p1!.id, control: { opModImpLimW: pct(50), setGradW: 36_000 } });
    r.server.handler.setDefaultControl({ program: p6!.id, control: { opModImpLimW: pct(20), setGradW: 36_000 } });
    r.server.handler.cancelControl({});
    await until('the derp1 default of 50 %', () => last(r)?.source === 'default' && charge(r) === pct(50), 5000);
    await until('DERC7 and DERC8 cancelled', () => r.statuses(derc7.mrid).includes(6) && r.statuses(derc8.mrid).includes(6), 3000);
  }, 45_000);

  for (const [procedure, mode] of [['LOA-11 variable import limit', 'opModImpLimW'], ['LOA-12 variable load limit', 'opModLoadLimW']] as const) {
    it(`${procedure}: five back-to-back controls created on the DERProgramList poll, each applied in turn and answered 1, 2, 3`, async () => {
      const r = await rig();
      // LOA-12's default is Imp = maxImportW, Exp = maxExportW, so the site limit does not mask the load limit.
      const defaults = mode === 'opModImpLimW' ? { opModImpLimW: 0, opModExpLimW: 0 } : { opModImpLimW: RATED_W, opModExpLimW: RATED_W };
      r.server.handler.createProgram({ primacy: 0, defaultControl: { ...defaults, setGradW: 36_000 } });
      const fractions = [200, 100, 40, 25, 0];
      let controls: string[] = [];
      let startS = 0;
      r.server.handler.beforeAnswer = ({ method, path }) => {
        if (controls.length === 0 && method === 'GET' && path === `${r.edevPath}/fsa/1/derp`) {
          startS = Math.floor(Date.now() / 1000) + 2;
          controls = fractions.map((f, i) => only(r.server.handler.createControl({ start: startS + 2 * i, duration: 2, [mode]: pct(f) })).mrid);
        }
      };
      r.startClient();
      await until('the controls created', () => controls.length === 5, 4000);
      const endMs = (startS + 10) * 1000;
      await until('every control 1, 2, 3', () => controls.every((c) => r.statuses(c).length >= 3), endMs - Date.now() + 4000);
      for (const c of controls) expect(r.statuses(c)).toEqual([1, 2, 3]);
      // Each control's value applied (ramped at 360 %/s: within the control's first second), in order.
      controls.forEach((mrid, i) => {
        const applied = r.seen.filter((s) => s.limit.mrid === mrid);
        const want = mode === 'opModImpLimW' ? pct(fractions[i]!) : Math.min(RATED_W, pct(fractions[i]!));
        expect(applied.map((s) => s.limit.chargeLimitW)).toContain(want);
        const reached = applied.find((s) => s.limit.chargeLimitW === want)!;
        expect(reached.atMs - (startS + 2 * i) * 1000).toBeLessThan(1200);
      });
      await until('the default after the last', () => last(r)?.source === 'default', 3000);
    }, 25_000);
  }

  for (const [procedure, derc2Pct] of [['LOA-13', 20], ['ALT-LOA-13 (EVSE)', 40]] as const) {
    it(`${procedure} tracking the import limit through a variable site load: charge limit = ImpLim ${derc2Pct} % less the rest of the site`, async () => {
      const r = await rig();
      r.server.handler.createProgram({ primacy: 0, defaultControl: { opModImpLimW: 0, opModExpLimW: 0, setGradW: 36_000 } });
      const startS = Math.floor(Date.now() / 1000) + 1;
      const derc1 = only(r.server.handler.createControl({ start: startS, duration: 2, opModImpLimW: pct(200) }));
      const derc2 = only(r.server.handler.createControl({ start: startS + 2, duration: 14, opModImpLimW: pct(derc2Pct) }));
      const actor = r.startClient();
      // The site meter: the charger draws what it may (up to its rating); the operator steps a parallel load.
      let parallelW = 0;
      const meter = setInterval(() => {
        const chargerW = Math.min(RATED_W, charge(r) ?? RATED_W);
        actor.send({ type: 'SITE_LOAD', load: { siteImportW: chargerW + parallelW, chargerW } });
      }, 200);
      closers.push(() => clearInterval(meter));
      await until('DERC1', () => last(r)?.mrid === derc1.mrid && charge(r) === pct(200), (startS + 2) * 1000 - Date.now() + 1000);
      await until('DERC2 with no other load', () => last(r)?.mrid === derc2.mrid && charge(r) === pct(derc2Pct), 3000);
      for (const loadPct of [20, 10, 0]) {
        parallelW = pct(loadPct);
        const want = Math.max(0, pct(derc2Pct) - parallelW);
        await until(`the charge limit at ImpLim less a ${loadPct} % load`, () => charge(r) === want, 3000);
        // The site import (charger at its limit + the load) stays within the import limit.
        expect(Math.min(RATED_W, want) + parallelW).toBeLessThanOrEqual(pct(derc2Pct) + (want === 0 ? parallelW : 0));
        await sleep(500);
        expect(charge(r)).toBe(want); // it holds (no oscillation)
      }
      expect(last(r)).toMatchObject({ source: 'control', mrid: derc2.mrid, importLimitW: pct(derc2Pct) });
    }, 30_000);
  }
});
