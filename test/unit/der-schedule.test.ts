/**
 * The DER control scheduler (src/domain/der-schedule.ts): table tests for every overlap, cancellation and fallback
 * rule, and properties (fast-check) for its invariants.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chargeLimit, drawRandomization, effectiveInterval, evaluateSchedule, rampedValue, shareLimit,
  type DefaultControl, type Draws, type ScheduledControl,
} from '../../src/domain/der-schedule.js';

const T0 = 1_800_000_000;
const control = (mrid: string, change: Partial<ScheduledControl> = {}): ScheduledControl => ({
  mrid, href: `/derp/1/derc/${mrid}`, programMrid: 'P1', primacy: 1, creationTime: T0 - 100, start: T0, duration: 600,
  randomizeStart: 0, randomizeDuration: 0, currentStatus: 0, statusTime: T0 - 100, base: { opModImpLimW: 5000 }, ...change,
});
const dflt = (change: Partial<DefaultControl> = {}): DefaultControl => ({ programMrid: 'P1', primacy: 1, mrid: 'D1', base: { opModImpLimW: 1500, opModLoadLimW: 7000 }, setGradW: undefined, ...change });
const none = new Map<string, Draws>();
const at = (controls: ScheduledControl[], now: number, defaults: DefaultControl[] = [], draws = none) => evaluateSchedule(controls, defaults, now, draws);
const state = (controls: ScheduledControl[], now: number, mrid: string) => at(controls, now).verdicts.find((v) => v.mrid === mrid)?.state;

describe('a control follows its interval', () => {
  it.each([
    [-1, 'scheduled', null],
    [0, 'active', 5000],
    [599, 'active', 5000],
    [600, 'completed', null],
  ])('%i s after its start it is %s', (offset, expected, limit) => {
    const s = at([control('A')], T0 + offset);
    expect(s.verdicts[0]!.state).toBe(expected);
    expect(s.limits.modes.opModImpLimW?.value ?? null).toBe(limit);
  });

  it('reports when the result next changes and how long the limit holds', () => {
    expect(at([control('A')], T0 - 10).limits).toMatchObject({ nextChangeAt: T0, source: 'none', mrid: null });
    expect(at([control('A')], T0 + 10).limits).toMatchObject({ nextChangeAt: T0 + 600, validUntil: T0 + 600, source: 'control', mrid: 'A' });
  });
});

describe('randomization', () => {
  it('shifts start and end by the draws, positive or negative', () => {
    const c = control('A', { randomizeStart: 60, randomizeDuration: -120 });
    expect(effectiveInterval(c, { start: 30, duration: -100 })).toEqual({ start: T0 + 30, end: T0 + 500 });
    const draws = new Map([['A', { start: 30, duration: -100 }]]);
    expect(at([c], T0 + 29, [], draws).verdicts[0]!.state).toBe('scheduled');
    expect(at([c], T0 + 499, [], draws).verdicts[0]!.state).toBe('active');
    expect(at([c], T0 + 500, [], draws).verdicts[0]!.state).toBe('completed');
  });

  it('draws lie between 0 and the randomize value, whatever its sign', () => {
    fc.assert(fc.property(fc.integer({ min: -3600, max: 3600 }), fc.integer({ min: -3600, max: 3600 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (rs, rd, r) => {
      const d = drawRandomization({ randomizeStart: rs, randomizeDuration: rd }, () => r);
      return Math.abs(d.start) <= Math.abs(rs) && Math.sign(d.start) * Math.sign(rs) >= 0 && Math.abs(d.duration) <= Math.abs(rd) && Math.sign(d.duration) * Math.sign(rd) >= 0;
    }));
  });
});

describe('cancellation (EventStatus)', () => {
  it('2 cancelled: ends at the cancellation time, or never starts', () => {
    const running = control('A', { currentStatus: 2, statusTime: T0 + 100 });
    expect(state([running], T0 + 99, 'A')).toBe('active');
    expect(state([running], T0 + 100, 'A')).toBe('cancelled');
    expect(state([control('B', { currentStatus: 2, statusTime: T0 - 50 })], T0 - 60, 'B')).toBe('cancelled');
  });

  it('3 cancelled with randomization: ends at the cancellation time plus the duration draw', () => {
    const c = control('A', { currentStatus: 3, statusTime: T0 + 100, randomizeDuration: 60 });
    const draws = new Map([['A', { start: 0, duration: 40 }]]);
    expect(at([c], T0 + 139, [], draws).verdicts[0]!.state).toBe('active');
    expect(at([c], T0 + 140, [], draws).verdicts[0]!.state).toBe('cancelled');
  });

  it('4 superseded by the server: superseded (whatever its creationTime says)', () => {
    expect(state([control('A', { currentStatus: 4, statusTime: T0 + 5 })], T0 + 10, 'A')).toBe('superseded');
  });
});

describe('overlaps', () => {
  it('within a program, the later-created overlapping control supersedes the earlier one entirely', () => {
    const old = control('A', { creationTime: T0 - 200, start: T0, duration: 600 });
    const fresh = control('B', { creationTime: T0 - 100, start: T0 + 300, duration: 600, base: { opModImpLimW: 2000 } });
    const s = at([old, fresh], T0 + 10);
    expect(s.verdicts.find((v) => v.mrid === 'A')).toMatchObject({ state: 'superseded', supersededBy: 'B' });
    expect(s.limits.modes.opModImpLimW).toBeUndefined(); // A is not executed, B has not started
    expect(at([old, fresh], T0 + 310).limits.modes.opModImpLimW?.value).toBe(2000);
  });

  it('within a program, controls that do not overlap both run', () => {
    const a = control('A', { creationTime: T0 - 200, start: T0, duration: 300 });
    const b = control('B', { creationTime: T0 - 100, start: T0 + 300, duration: 300, base: { opModImpLimW: 2000 } });
    expect(state([a, b], T0 + 10, 'A')).toBe('active');
    expect(at([a, b], T0 + 301).limits.modes.opModImpLimW?.value).toBe(2000);
  });

  it('a cancelled newer control supersedes nothing', () => {
    const a = control('A', { creationTime: T0 - 200 });
    const b = control('B', { creationTime: T0 - 100, currentStatus: 2, statusTime: T0 - 50 });
    expect(state([a, b], T0 + 10, 'A')).toBe('active');
  });

  it('equal creation times: the mRID decides, deterministically', () => {
    const a = control('AA', { creationTime: T0 }); const b = control('BB', { creationTime: T0 });
    expect(state([a, b], T0 + 1, 'AA')).toBe('superseded');
    expect(state([b, a], T0 + 1, 'AA')).toBe('superseded');
  });

  it('across programs, the lower primacy supersedes an overlapping control whose modes it sets, even a newer one, before either starts', () => {
    const high = control('H', { programMrid: 'P1', primacy: 1, creationTime: T0 - 500, base: { opModImpLimW: 3000 } });
    const low = control('L', { programMrid: 'P2', primacy: 5, creationTime: T0 - 10, base: { opModImpLimW: 9000 } });
    expect(at([low, high], T0 - 60).verdicts.map((v) => [v.mrid, v.state, v.supersededBy])).toEqual([['L', 'superseded', 'H'], ['H', 'scheduled', undefined]]);
    const s = at([low, high], T0 + 1);
    expect(s.limits.modes.opModImpLimW).toMatchObject({ value: 3000, mrid: 'H' });
    expect(s.limits.mrid).toBe('H');
  });

  it('a control that keeps a mode no winner sets still runs, each mode from the best control (LOA-10 DERC7 and DERC8)', () => {
    const high = control('H', { programMrid: 'P1', primacy: 1, creationTime: T0 - 500, base: { opModImpLimW: 0 } });
    const low = control('L', { programMrid: 'P2', primacy: 2, creationTime: T0 - 10, base: { opModImpLimW: 3500, opModLoadLimW: 2100 } });
    expect(at([low, high], T0 - 60).verdicts.map((v) => v.state)).toEqual(['scheduled', 'scheduled']);
    const s = at([low, high], T0 + 1);
    expect(s.verdicts.map((v) => v.state)).toEqual(['active', 'active']);
    expect(s.limits.modes.opModImpLimW).toMatchObject({ value: 0, mrid: 'H' });
    expect(s.limits.modes.opModLoadLimW).toMatchObject({ value: 2100, mrid: 'L' });
    expect(s.limits.mrid).toBe('H');
  });

  it('several winners that together set every mode of a control supersede it', () => {
    const imp = control('I', { programMrid: 'P1', primacy: 1, base: { opModImpLimW: 0 } });
    const load = control('D', { programMrid: 'P1', primacy: 1, creationTime: T0 + 5, base: { opModLoadLimW: 0 } });
    const low = control('L', { programMrid: 'P2', primacy: 2, base: { opModImpLimW: 3500, opModLoadLimW: 2100 } });
    expect(at([imp, load, low], T0 + 1).verdicts.find((v) => v.mrid === 'L')).toMatchObject({ state: 'superseded', supersededBy: 'I' });
  });

  it('controls that share no mode both run, across programs and within one (LOA-10)', () => {
    const imp = control('I', { programMrid: 'P1', primacy: 1, base: { opModImpLimW: 3000 } });
    const load = control('L', { programMrid: 'P2', primacy: 5, base: { opModLoadLimW: 4000 } });
    const exp = control('E', { programMrid: 'P1', primacy: 1, creationTime: T0, base: { opModExpLimW: 0 } });
    const s = at([imp, load, exp], T0 + 1);
    expect(s.verdicts.map((v) => v.state)).toEqual(['active', 'active', 'active']);
    expect(s.limits.modes).toMatchObject({ opModImpLimW: { mrid: 'I' }, opModLoadLimW: { mrid: 'L' }, opModExpLimW: { mrid: 'E' } });
    expect(s.limits.mrid).toBe('I');
  });
});

describe('defaults', () => {
  it('apply to every mode no active control sets; the lowest-primacy default wins', () => {
    const defaults = [dflt({ programMrid: 'P2', primacy: 9, mrid: 'D9', base: { opModImpLimW: 100, opModExpLimW: 0 } }), dflt()];
    const idle = at([], T0, defaults).limits;
    expect(idle).toMatchObject({ source: 'default', mrid: 'D1' });
    expect(idle.modes).toMatchObject({ opModImpLimW: { value: 1500, source: 'default' }, opModLoadLimW: { value: 7000 }, opModExpLimW: { value: 0, mrid: 'D9' } });
    const during = at([control('A')], T0 + 1, defaults).limits;
    expect(during.modes).toMatchObject({ opModImpLimW: { value: 5000, source: 'control' }, opModLoadLimW: { value: 7000, source: 'default' } });
    expect(during.source).toBe('control');
  });
});

describe('the charge limit', () => {
  const limits = (base: Record<string, number | boolean>) => at([control('A', { base })], T0 + 1).limits;
  it('is the load limit, or the import limit on the charger when no site meter is configured, the lower of both', () => {
    expect(chargeLimit(limits({ opModLoadLimW: 7000 })).chargeLimitW).toBe(7000);
    expect(chargeLimit(limits({ opModImpLimW: 5000 })).chargeLimitW).toBe(5000);
    expect(chargeLimit(limits({ opModImpLimW: 5000, opModLoadLimW: 4000 })).chargeLimitW).toBe(4000);
  });
  it('with a site meter, the import limit less the rest of the site\'s import', () => {
    expect(chargeLimit(limits({ opModImpLimW: 5000 }), { siteImportW: 3000, chargerW: 1000 }).chargeLimitW).toBe(3000);
    expect(chargeLimit(limits({ opModImpLimW: 5000 }), { siteImportW: 9000, chargerW: 1000 }).chargeLimitW).toBe(0);
  });
  it('is 0 while disconnected or de-energized, and null when nothing applies', () => {
    expect(chargeLimit(limits({ opModConnect: false, opModLoadLimW: 7000 })).chargeLimitW).toBe(0);
    expect(chargeLimit(limits({ opModEnergize: false })).chargeLimitW).toBe(0);
    expect(chargeLimit(at([], T0, []).limits)).toEqual({ importLimitW: null, exportLimitW: null, loadLimitW: null, generationLimitW: null, connect: null, energize: null, chargeLimitW: null });
  });
  it('is shared equally among a site\'s EVSEs', () => {
    expect(shareLimit(7000, 2)).toBe(3500);
    expect(shareLimit(null, 2)).toBeNull();
  });
});

describe('ramping', () => {
  it('over rampTms, or at setGradW of the rating per second; at once without either, or to 0', () => {
    expect(rampedValue(10_000, 0, 1, { rampTms: 1000, ratedW: 10_000 })).toBe(0);
    expect(rampedValue(10_000, 5000, 5, { rampTms: 1000, ratedW: 10_000 })).toBe(7500);
    expect(rampedValue(10_000, 5000, 10, { rampTms: 1000, ratedW: 10_000 })).toBe(5000);
    // 100 = 1 % of 10 kW per second = 100 W/s: 5000 W takes 50 s.
    expect(rampedValue(10_000, 5000, 25, { setGradW: 100, ratedW: 10_000 })).toBe(7500);
    expect(rampedValue(10_000, 5000, 1, { ratedW: 10_000 })).toBe(5000);
    // A control's rampTms wins over the default's setGradW; 0 means at once.
    expect(rampedValue(10_000, 5000, 1, { rampTms: 0, setGradW: 100, ratedW: 10_000 })).toBe(5000);
    expect(rampedValue(null, 5000, 0, { rampTms: 1000, ratedW: 10_000 })).toBe(5000);
  });
});

describe('invariants (fast-check)', () => {
  const arbControl = fc.record({
    id: fc.integer({ min: 0, max: 9 }), program: fc.integer({ min: 1, max: 3 }), created: fc.integer({ min: 0, max: 50 }),
    start: fc.integer({ min: 0, max: 100 }), duration: fc.integer({ min: 0, max: 100 }), rs: fc.integer({ min: -20, max: 20 }), rd: fc.integer({ min: -20, max: 20 }),
    status: fc.constantFrom(0, 0, 0, 1, 2, 3, 4), statusAt: fc.integer({ min: 0, max: 200 }), limit: fc.integer({ min: 0, max: 20_000 }),
  });
  const build = (rows: { id: number; program: number; created: number; start: number; duration: number; rs: number; rd: number; status: number; statusAt: number; limit: number }[]) => {
    const seen = new Set<number>();
    return rows.filter((r) => !seen.has(r.id) && seen.add(r.id)).map((r) => control(`C${r.id}`, {
      programMrid: `P${r.program}`, primacy: r.program, creationTime: r.created, start: r.start, duration: r.duration, randomizeStart: r.rs, randomizeDuration: r.rd,
      currentStatus: r.status, statusTime: r.statusAt, base: { opModImpLimW: r.limit },
    }));
  };
  const property = fc.property(fc.array(arbControl, { maxLength: 8 }), fc.integer({ min: -30, max: 250 }), fc.double({ min: 0, max: 0.999, noNaN: true }), (rows, now, r) => {
    const controls = build(rows);
    const draws = new Map(controls.map((c) => [c.mrid, drawRandomization(c, () => r)]));
    const s = evaluateSchedule(controls, [], now, draws);
    const active = s.verdicts.filter((v) => v.state === 'active');
    // At most one active control per program (here every control sets the same mode), and so per mode.
    const programs = active.map((v) => controls.find((c) => c.mrid === v.mrid)!.programMrid);
    if (new Set(programs).size !== programs.length || active.length > 1) return false;
    // No control applied outside its interval plus randomization.
    for (const v of active) {
      const c = controls.find((x) => x.mrid === v.mrid)!;
      const lo = c.start + Math.min(0, c.randomizeStart);
      const hi = c.start + c.duration + Math.max(0, c.randomizeDuration);
      if (now < lo || now >= hi) return false;
    }
    // The primacy order is respected: a control of a lower-primacy program that was live now is never superseded
    // by one of a higher primacy value.
    for (const v of s.verdicts.filter((x) => x.state === 'superseded' && x.supersededBy)) {
      const loser = controls.find((c) => c.mrid === v.mrid)!;
      const winner = controls.find((c) => c.mrid === v.supersededBy)!;
      if (winner.primacy > loser.primacy) return false;
    }
    const applied = s.limits.modes.opModImpLimW;
    if (active.length === 0) return applied === undefined;
    return applied !== undefined && applied.mrid === active[0]!.mrid;
  });
  it('at most one active control per program; primacy respected; nothing outside its interval plus randomization', () => {
    fc.assert(property, { numRuns: Number(process.env.FUZZ_RUNS ?? 2000) });
  });
});
