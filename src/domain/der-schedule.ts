/**
 * IEEE 2030.5 DER control scheduling (pure): which of a site's DERControls apply at a given time, and the limits
 * that follow, with the DefaultDERControls as the fallback. The DER client chart calls it on every change and timer.
 *
 * Rules (IEEE 2030.5 §10.10 / §12.1.3 event rules, CSIP-AUS client requirements):
 * - A control applies from its effective start to its effective end: `interval.start` + the randomizeStart draw to
 *   that plus `interval.duration` + the randomizeDuration draw. Draws are made once per control (see
 *   `drawRandomization`) and kept by the caller across restarts; a draw lies between 0 and the randomize value
 *   (which may be negative).
 * - The server's `EventStatus.currentStatus`: 0 scheduled and 1 active are followed by the clock; 2 cancelled ends it
 *   (at once); 3 cancelled with randomization ends it at the cancellation time plus the randomizeDuration draw; 4
 *   superseded (the server's word) makes it superseded.
 * - Supersession is by control mode: of two controls whose intervals overlap and that set at least one mode in
 *   common, the one of the program with the lower `primacy` wins, and at equal primacy the one created later
 *   (`creationTime`, then mRID as a stable tie-break). A control whose every mode is set by controls that win over
 *   it is not executed at all (response 7, superseded), and is known to be superseded as soon as all are known,
 *   before any starts. Controls that share no mode both run; one that keeps a mode no winner sets runs too, and each
 *   mode takes its value from the best active control that sets it (CACTUS LOA-10: ImpLim from the higher program,
 *   LoadLim from the lower). Overlap is judged on the intervals as cancelled: a control cancelled before it began
 *   supersedes nothing.
 * - So at any time each mode's value comes from one active control.
 * - A mode no active control sets is taken from the DefaultDERControl of the program with the lowest primacy whose
 *   default sets it.
 */

export const CONTROL_MODES = [
  'opModImpLimW', 'opModExpLimW', 'opModLoadLimW', 'opModGenLimW', 'opModConnect', 'opModEnergize', 'opModFixedW', 'opModMaxLimW',
] as const;
export type ControlMode = (typeof CONTROL_MODES)[number];

/** The modes of a DERControlBase, power in watts (multipliers applied). */
export interface ControlBase {
  opModImpLimW?: number | undefined;
  opModExpLimW?: number | undefined;
  opModLoadLimW?: number | undefined;
  opModGenLimW?: number | undefined;
  opModConnect?: boolean | undefined;
  opModEnergize?: boolean | undefined;
  opModFixedW?: number | undefined;
  opModMaxLimW?: number | undefined;
  /** Hundredths of a second to ramp to this control's values. */
  rampTms?: number | undefined;
}

/** EventStatus.currentStatus. */
export const EVENT_STATUS = { scheduled: 0, active: 1, cancelled: 2, cancelledWithRandomization: 3, superseded: 4 } as const;

export interface ScheduledControl {
  mrid: string;
  href: string | undefined;
  programMrid: string;
  primacy: number;
  /** Unix seconds. */
  creationTime: number;
  start: number;
  duration: number;
  randomizeStart: number;
  randomizeDuration: number;
  currentStatus: number;
  /** When the server set currentStatus (cancellations take effect from it). */
  statusTime: number;
  base: ControlBase;
}

export interface DefaultControl {
  programMrid: string;
  primacy: number;
  mrid: string | undefined;
  base: ControlBase;
  /** DefaultDERControl.setGradW: hundredths of a percent of rated power per second. */
  setGradW: number | undefined;
}

/** The randomization draws of a control, seconds; kept across restarts. */
export interface Draws {
  start: number;
  duration: number;
}

/** A draw between 0 and `value` (either sign), from a number in [0, 1). */
const drawOf = (value: number, random: number): number => Math.round(value * Math.min(Math.max(random, 0), 1));

export function drawRandomization(control: Pick<ScheduledControl, 'randomizeStart' | 'randomizeDuration'>, random: () => number): Draws {
  return { start: drawOf(control.randomizeStart, random()), duration: drawOf(control.randomizeDuration, random()) };
}

/** The effective interval [start, end) of a control, seconds, before cancellation. */
export function effectiveInterval(control: ScheduledControl, draws: Draws | undefined): { start: number; end: number } {
  const start = control.start + (draws?.start ?? 0);
  const end = control.start + control.duration + (draws?.duration ?? 0);
  return { start, end: Math.max(start, end) };
}

export type ControlState = 'scheduled' | 'active' | 'completed' | 'cancelled' | 'superseded';

export interface ControlVerdict {
  mrid: string;
  state: ControlState;
  /** Effective interval (cancellation included). */
  start: number;
  end: number;
  /** The control that superseded it. */
  supersededBy?: string | undefined;
}

export interface AppliedLimits {
  /** Each mode's value and where it came from. */
  modes: Partial<Record<ControlMode, { value: number | boolean; source: 'control' | 'default'; mrid: string | undefined }>>;
  /** `control` when any mode comes from a control, else `default` when any from a default, else `none`. */
  source: 'control' | 'default' | 'none';
  /** The deciding control (lowest primacy among those contributing), or the default's mRID. */
  mrid: string | null;
  /** The next time (seconds) the result may change by the clock alone: a start or an end. */
  nextChangeAt: number | undefined;
  /** When the deciding controls end (the earliest end among contributing controls). */
  validUntil: number | undefined;
  /** Ramp time of the deciding control, hundredths of a second. */
  rampTms: number | undefined;
  setGradW: number | undefined;
}

export interface Schedule {
  verdicts: ControlVerdict[];
  limits: AppliedLimits;
}

const newer = (a: ScheduledControl, b: ScheduledControl): boolean =>
  a.creationTime !== b.creationTime ? a.creationTime > b.creationTime : a.mrid > b.mrid;
/** Whether `a` wins over `b` where both apply: lower primacy, then created later. */
const wins = (a: ScheduledControl, b: ScheduledControl): boolean => (a.primacy !== b.primacy ? a.primacy < b.primacy : newer(a, b));
const MODE_KEYS = (base: ControlBase): ControlMode[] => CONTROL_MODES.filter((m) => base[m] !== undefined);
const shareMode = (a: ScheduledControl, b: ScheduledControl): boolean => MODE_KEYS(a.base).some((m) => b.base[m] !== undefined);

/** The effective end, with the server's cancellation applied. */
function endOf(control: ScheduledControl, draws: Draws | undefined): { start: number; end: number; cancelled: boolean } {
  const { start, end } = effectiveInterval(control, draws);
  if (control.currentStatus === EVENT_STATUS.cancelled) {
    return { start, end: Math.min(end, Math.max(start, control.statusTime)), cancelled: true };
  }
  if (control.currentStatus === EVENT_STATUS.cancelledWithRandomization) {
    return { start, end: Math.min(end, Math.max(start, control.statusTime + (draws?.duration ?? 0))), cancelled: true };
  }
  return { start, end, cancelled: false };
}

/** Evaluates every control at `now` (seconds). `draws` by mRID; a control without a draw is not randomized. */
export function evaluateSchedule(controls: readonly ScheduledControl[], defaults: readonly DefaultControl[], now: number, draws: ReadonlyMap<string, Draws>): Schedule {
  const timed = controls.map((c) => ({ control: c, ...endOf(c, draws.get(c.mrid)) }));
  const verdicts: ControlVerdict[] = [];
  const live: typeof timed = [];
  for (const t of timed) {
    const c = t.control;
    if (c.currentStatus === EVENT_STATUS.superseded) {
      verdicts.push({ mrid: c.mrid, state: 'superseded', start: t.start, end: t.end });
      continue;
    }
    // Controls that win over this one where their intervals (as cancelled, if they were) overlap supersede it when
    // together they set every mode it sets (LOA-10: one that keeps a mode of its own still starts, for that mode);
    // one cancelled before it began, or itself superseded by the server, does not count.
    const over = timed.filter((o) => o !== t && o.control.currentStatus !== EVENT_STATUS.superseded && o.end > o.start && wins(o.control, c)
      && shareMode(o.control, c) && o.start < t.end && t.start < o.end);
    if (over.length && MODE_KEYS(c.base).every((m) => over.some((o) => o.control.base[m] !== undefined))) {
      verdicts.push({ mrid: c.mrid, state: 'superseded', start: t.start, end: t.end, supersededBy: over[0]!.control.mrid });
      continue;
    }
    let state: ControlState;
    if (t.cancelled && (now >= t.end || t.end <= t.start)) state = 'cancelled';
    else if (now >= t.end) state = 'completed';
    else if (now >= t.start) state = 'active';
    else state = 'scheduled';
    verdicts.push({ mrid: c.mrid, state, start: t.start, end: t.end });
    live.push(t);
  }
  const active = live.filter((t) => now >= t.start && now < t.end).sort((a, b) => a.control.primacy - b.control.primacy || (newer(a.control, b.control) ? -1 : 1));
  const modes: AppliedLimits['modes'] = {};
  let decider: (typeof active)[number] | undefined;
  for (const mode of CONTROL_MODES) {
    const winner = active.find((t) => t.control.base[mode] !== undefined);
    if (winner) {
      modes[mode] = { value: winner.control.base[mode]!, source: 'control', mrid: winner.control.mrid };
      if (!decider || winner.control.primacy < decider.control.primacy) decider = winner;
      continue;
    }
    const fallback = [...defaults].sort((a, b) => a.primacy - b.primacy).find((d) => d.base[mode] !== undefined);
    if (fallback) modes[mode] = { value: fallback.base[mode]!, source: 'default', mrid: fallback.mrid };
  }
  const contributing = active.filter((t) => Object.values(modes).some((m) => m.mrid === t.control.mrid && m.source === 'control'));
  const edges = live.flatMap((t) => [t.start, t.end]).filter((x) => x > now);
  const anyDefault = Object.values(modes).find((m) => m.source === 'default');
  const defaultUsed = anyDefault ? defaults.find((d) => d.mrid === anyDefault.mrid) : undefined;
  return {
    verdicts,
    limits: {
      modes,
      source: decider ? 'control' : anyDefault ? 'default' : 'none',
      mrid: decider ? decider.control.mrid : anyDefault?.mrid ?? null,
      nextChangeAt: edges.length ? Math.min(...edges) : undefined,
      validUntil: contributing.length ? Math.min(...contributing.map((t) => t.end)) : undefined,
      rampTms: decider?.control.base.rampTms ?? defaultUsed?.base.rampTms,
      setGradW: defaultUsed?.setGradW,
    },
  };
}

/** The limits a charger applies, watts (null = no limit), from the applied modes. */
export interface ChargeLimit {
  importLimitW: number | null;
  exportLimitW: number | null;
  loadLimitW: number | null;
  generationLimitW: number | null;
  connect: boolean | null;
  energize: boolean | null;
  /** The ceiling on the charger's own consumption. */
  chargeLimitW: number | null;
}

/**
 * The charge limit: `opModLoadLimW`, and `opModImpLimW` less the rest of the site's import when a site meter is
 * configured (`siteImportW` = the site's import including the charger, `chargerW` = the charger's own), else
 * `opModImpLimW` itself; the lower of the two; 0 while disconnected or de-energized; never below 0.
 */
export function chargeLimit(limits: AppliedLimits, site: { siteImportW?: number | undefined; chargerW?: number | undefined } = {}): ChargeLimit {
  const num = (mode: ControlMode): number | null => {
    const m = limits.modes[mode];
    return m && typeof m.value === 'number' ? m.value : null;
  };
  const bool = (mode: ControlMode): boolean | null => {
    const m = limits.modes[mode];
    return m && typeof m.value === 'boolean' ? m.value : null;
  };
  const importLimitW = num('opModImpLimW');
  const loadLimitW = num('opModLoadLimW');
  const connect = bool('opModConnect');
  const energize = bool('opModEnergize');
  const fromImport = importLimitW === null ? null
    : site.siteImportW !== undefined ? importLimitW - Math.max(0, site.siteImportW - (site.chargerW ?? 0)) : importLimitW;
  const candidates = [loadLimitW, fromImport].filter((x): x is number => x !== null);
  let chargeLimitW: number | null = candidates.length ? Math.max(0, Math.min(...candidates)) : null;
  if (connect === false || energize === false) chargeLimitW = 0;
  return { importLimitW, exportLimitW: num('opModExpLimW'), loadLimitW, generationLimitW: num('opModGenLimW'), connect, energize, chargeLimitW };
}

/**
 * Ramping toward a new limit (IEEE 2030.5 rampTms, DefaultDERControl setGradW): from `from` to `to` over `rampTms`
 * hundredths of a second, or at `setGradW` hundredths of a percent of `ratedW` per second; at once when neither is
 * given, when rampTms is 0, when either end is unlimited, or for a step down to 0 (disconnect).
 */
export function rampedValue(from: number | null, to: number | null, elapsedS: number, ramp: RampRate): number | null {
  const seconds = rampSeconds(from, to, ramp);
  if (from === null || to === null || elapsedS >= seconds) return to;
  return from + (to - from) * (Math.max(0, elapsedS) / seconds);
}

export interface RampRate {
  rampTms?: number | undefined;
  setGradW?: number | undefined;
  ratedW: number;
}

/** How long the ramp from `from` to `to` takes, seconds (0: at once; see rampedValue). */
export function rampSeconds(from: number | null, to: number | null, ramp: RampRate): number {
  if (from === null || to === null || to === 0 || from === to) return 0;
  // A control's rampTms wins over the default's setGradW; rampTms 0 asks for the new value at once.
  if (ramp.rampTms !== undefined) return ramp.rampTms > 0 ? ramp.rampTms / 100 : 0;
  if (ramp.setGradW !== undefined && ramp.setGradW > 0 && ramp.ratedW > 0) return Math.abs(to - from) / (ramp.ratedW * (ramp.setGradW / 10_000));
  return 0;
}

/** Shares a site's charge limit among its EVSEs: equally (each gets limit / n); null stays null. */
export function shareLimit(limitW: number | null, evses: number): number | null {
  if (limitW === null) return null;
  return evses > 0 ? limitW / evses : limitW;
}
