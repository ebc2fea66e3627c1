/**
 * The DER client's rules around the scheduler (pure): which controls may be applied (validation, rejection codes),
 * the randomization draws, which DERControlResponses a verdict asks for (each status once per control), and the
 * applied limit with ramping. The DER client chart (machines/der-client.machine.ts) calls these from its actions.
 */
import type { ControlBaseDoc, DerControlDoc, DefaultDerControlDoc } from './sep2-resources.js';
import { jitterDraw } from './retry.js';
import {
  chargeLimit, evaluateSchedule, rampedValue, rampSeconds, type ChargeLimit, type ControlBase, type ControlState, type DefaultControl, type Draws, type ScheduledControl,
} from './der-schedule.js';

/** IEEE 2030.5 Table 27 response status (envoy's ResponseType). */
export const RESPONSE = {
  received: 1, started: 2, completed: 3, cancelled: 6, superseded: 7,
  rejectedNotApplicable: 252, rejectedInvalid: 253, rejectedLate: 254,
} as const;

/** A program as polled: its primacy, its default, its controls. */
export interface ProgramSnapshot {
  mrid: string;
  primacy: number;
  href: string | undefined;
  defaultControl: DefaultDerControlDoc | undefined;
  controls: DerControlDoc[];
}

export interface PendingResponse {
  replyTo: string;
  subject: string;
  status: number;
}

/** Why a control cannot be applied, as a response status and a reason; undefined when it can. */
export function rejectionOf(control: DerControlDoc): { status: number; reason: string } | undefined {
  const b = control.base;
  const powers: [string, number | undefined][] = [['opModImpLimW', b.opModImpLimW], ['opModExpLimW', b.opModExpLimW], ['opModLoadLimW', b.opModLoadLimW], ['opModGenLimW', b.opModGenLimW]];
  for (const [name, w] of powers) {
    if (w !== undefined && (!Number.isFinite(w) || w < 0)) return { status: RESPONSE.rejectedInvalid, reason: `${name} ${w} W is negative` };
  }
  const implemented = powers.some(([, w]) => w !== undefined) || b.opModConnect !== undefined || b.opModEnergize !== undefined || b.opModMaxLimW !== undefined || b.opModFixedW !== undefined;
  if (!implemented) {
    return { status: RESPONSE.rejectedNotApplicable, reason: b.unsupported.length ? `no mode this charger implements (only ${b.unsupported.join(', ')})` : 'the control sets no mode' };
  }
  return undefined;
}

/** The draws of a control: made once, from the site and the control (the same after a restart). */
export const drawsFor = (site: string, control: Pick<DerControlDoc, 'mrid' | 'randomizeStart' | 'randomizeDuration'>): Draws => ({
  start: Math.round(control.randomizeStart * jitterDraw(`${site}/${control.mrid}`, 0)),
  duration: Math.round(control.randomizeDuration * jitterDraw(`${site}/${control.mrid}`, 1)),
});

const baseOf = ({ unsupported: _unsupported, ...modes }: ControlBaseDoc): ControlBase => modes;

/** The draws and rejections of newly known controls (known ones keep theirs); the rejections new this time. */
export function admitControls(site: string, programs: readonly ProgramSnapshot[], known: { draws: Record<string, Draws>; rejected: Record<string, { status: number; reason: string }> }) {
  const draws = { ...known.draws };
  const rejected = { ...known.rejected };
  const fresh: { mrid: string; status: number; reason: string }[] = [];
  for (const control of programs.flatMap((p) => p.controls)) {
    draws[control.mrid] ??= drawsFor(site, control);
    if (rejected[control.mrid] === undefined) {
      const why = rejectionOf(control);
      if (why) {
        rejected[control.mrid] = why;
        fresh.push({ mrid: control.mrid, ...why });
      }
    }
  }
  return { draws, rejected, fresh };
}

export function scheduledControls(programs: readonly ProgramSnapshot[], rejected: ReadonlySet<string>): ScheduledControl[] {
  return programs.flatMap((p) => p.controls.filter((c) => !rejected.has(c.mrid)).map((c) => ({
    mrid: c.mrid, href: c.href, programMrid: p.mrid, primacy: p.primacy, creationTime: c.creationTime, start: c.start, duration: c.duration,
    randomizeStart: c.randomizeStart, randomizeDuration: c.randomizeDuration, currentStatus: c.currentStatus, statusTime: c.statusTime, base: baseOf(c.base),
  })));
}

export function defaultControls(programs: readonly ProgramSnapshot[]): DefaultControl[] {
  return programs.flatMap((p) => (p.defaultControl ? [{ programMrid: p.mrid, primacy: p.primacy, mrid: p.defaultControl.mrid, base: baseOf(p.defaultControl.base), setGradW: p.defaultControl.setGradW }] : []));
}

/** The statuses a verdict asks for, in lifecycle order (received first; envoy asks with responseRequired 03). */
export function statusesFor(state: ControlState | 'rejected', responseRequired: number, rejection?: number): number[] {
  const received = (responseRequired & 1) !== 0;
  const specific = (responseRequired & 2) !== 0;
  const out: number[] = [];
  if (received) out.push(RESPONSE.received);
  if (!specific) return out;
  switch (state) {
    case 'rejected': out.push(rejection ?? RESPONSE.rejectedInvalid); break;
    case 'active': out.push(RESPONSE.started); break;
    case 'completed': out.push(RESPONSE.started, RESPONSE.completed); break;
    case 'cancelled': out.push(RESPONSE.cancelled); break;
    case 'superseded': out.push(RESPONSE.superseded); break;
    case 'scheduled': break;
  }
  return out;
}

/** The limit on the feed: what applies, from where, until when. */
export interface GridLimit extends ChargeLimit {
  site: string;
  source: 'control' | 'default' | 'none';
  mrid: string | null;
  validUntil: string | null;
}

export interface Ramp {
  /** The value when the ramp began, watts (null: unlimited). */
  from: number | null;
  to: number | null;
  startedAtMs: number;
  rampTms: number | undefined;
  setGradW: number | undefined;
}

export interface Evaluation {
  limit: GridLimit;
  ramp: Ramp;
  /** Verdict per control mRID. */
  states: Map<string, ControlState>;
  /** When to evaluate again (ms): the next start or end, or 1 s while ramping. */
  nextAtMs: number | undefined;
}

/** Evaluates the schedule at `nowMs` and ramps the charge limit from where it was. */
export function evaluate(input: {
  site: string; ratedW: number; nowMs: number; programs: readonly ProgramSnapshot[]; rejected: ReadonlySet<string>;
  draws: ReadonlyMap<string, Draws>; ramp: Ramp | undefined;
  /** A site meter's reading: opModImpLimW then caps the site's import, so the charger gets it less the rest of the site. */
  siteLoad?: { siteImportW: number; chargerW: number } | undefined;
}): Evaluation {
  const nowS = Math.floor(input.nowMs / 1000);
  const schedule = evaluateSchedule(scheduledControls(input.programs, input.rejected), defaultControls(input.programs), nowS, input.draws);
  const target = chargeLimit(schedule.limits, input.siteLoad);
  const previous = input.ramp;
  const current = previous ? rampedValue(previous.from, previous.to, (input.nowMs - previous.startedAtMs) / 1000, { ...previous, ratedW: input.ratedW }) : null;
  const ramp: Ramp = previous && previous.to === target.chargeLimitW
    ? previous
    : { from: previous ? current : target.chargeLimitW, to: target.chargeLimitW, startedAtMs: input.nowMs, rampTms: schedule.limits.rampTms, setGradW: schedule.limits.setGradW };
  const applied = rampedValue(ramp.from, ramp.to, (input.nowMs - ramp.startedAtMs) / 1000, { rampTms: ramp.rampTms, setGradW: ramp.setGradW, ratedW: input.ratedW });
  // While ramping: every second, and at the ramp's end, so that the target is reached on time.
  const rampEndMs = ramp.startedAtMs + 1000 * rampSeconds(ramp.from, ramp.to, { rampTms: ramp.rampTms, setGradW: ramp.setGradW, ratedW: input.ratedW });
  const ramping = applied !== ramp.to;
  const edges = [schedule.limits.nextChangeAt !== undefined ? schedule.limits.nextChangeAt * 1000 : undefined, ramping ? Math.min(input.nowMs + 1000, Math.ceil(rampEndMs)) : undefined]
    .filter((x): x is number => x !== undefined);
  return {
    limit: {
      site: input.site, source: schedule.limits.source, mrid: schedule.limits.mrid, ...target,
      chargeLimitW: applied === null ? null : Math.round(applied),
      validUntil: schedule.limits.validUntil !== undefined ? new Date(schedule.limits.validUntil * 1000).toISOString() : null,
    },
    ramp,
    states: new Map(schedule.verdicts.map((v) => [v.mrid, v.state])),
    nextAtMs: edges.length ? Math.min(...edges) : undefined,
  };
}

export const sameLimit = (a: GridLimit | undefined, b: GridLimit): boolean => a !== undefined && JSON.stringify(a) === JSON.stringify(b);
