/**
 * The DER programs and controls of each site (EndDevice), in memory, with envoy's rules
 * (docs/csip-aus-der-client.md §3; envoy `mapper/csip_aus/doe.py`, `crud/doe.py`, `admin/crud/doe.py`):
 *
 * - A site's programs live at `{edev}/derp/{n}` (n per site, from 1) and are listed by primacy ascending, then id
 *   descending. They sit in one FunctionSetAssignments, `{edev}/fsa/1`, which exists once the site has a program
 *   (envoy derives its FSA ids from the programs: no program, no FSA).
 * - A control's `currentStatus`: cancelled → 2, or 3 when it was cancelled "with randomisation" (envoy: whenever
 *   randomizeStart is set, even to 0); superseded → 4; otherwise 1 while now ∈ [start, start + duration), else 0.
 *   `EventStatus.dateTime` and `creationTime` are the control's changed time, which cancellation (envoy serves the
 *   archive row, whose changed time is the deletion time) and supersession (envoy updates `changed_time`) set to
 *   the time of that event — so a superseded control's creationTime equals its successor's.
 * - The DERControlList holds every control whose end is still in the future, cancelled ones included; finished
 *   controls drop out. Order: start ascending, changed time descending, id descending. The ActiveDERControlList
 *   holds the controls that are not cancelled and are running now (superseded ones included, as in envoy).
 * - Inserting a control marks superseded every older control of the same program that is neither cancelled nor
 *   superseded, overlaps it in time (partial overlap counts) and sets at least one of the same modes. Programs never
 *   supersede each other's controls.
 *
 * Times are epoch seconds from the caller (the handler's clock). Everything throws `Sep2AdminError` (bad input,
 * unknown ids, conflicts) so the admin API can answer 400/404/409.
 */
import type { Sep2Site } from './store.js';

/** An ActivePower: value × 10^multiplier W (value Int16, multiplier −9..9). */
export interface Sep2ActivePower {
  value: number;
  multiplier: number;
}

export const POWER_MODES = ['opModImpLimW', 'opModExpLimW', 'opModGenLimW', 'opModLoadLimW'] as const;
export type PowerMode = (typeof POWER_MODES)[number];

/** The DERControlBase a control or default carries; absent = not set. */
export interface Sep2ControlModes {
  opModConnect?: boolean | undefined;
  opModEnergize?: boolean | undefined;
  /** SignedPerCent (hundredths of a percent of setMaxW). */
  opModFixedW?: number | undefined;
  /** PerCent (hundredths of a percent of setMaxW). */
  opModMaxLimW?: number | undefined;
  /** Hundredths of a second. */
  rampTms?: number | undefined;
  opModImpLimW?: Sep2ActivePower | undefined;
  opModExpLimW?: Sep2ActivePower | undefined;
  opModGenLimW?: Sep2ActivePower | undefined;
  opModLoadLimW?: Sep2ActivePower | undefined;
}

/** The modes that take part in supersession (envoy DOEFieldSet; rampTms is not a mode). */
const CONFLICTING_MODES = ['opModConnect', 'opModEnergize', 'opModFixedW', 'opModMaxLimW', ...POWER_MODES] as const;

export interface Sep2DefaultControl {
  mrid: string;
  modes: Sep2ControlModes;
  /** Hundredths of a percent of rated W per second. */
  setGradW?: number | undefined;
}

export interface Sep2Control {
  /** Server-wide number, the last path segment of its href. */
  id: number;
  href: string;
  mrid: string;
  description: string;
  program: Sep2Program;
  /** The created time; moved to the supersession time when superseded (envoy `changed_time`). */
  changedAt: number;
  start: number;
  duration: number;
  randomizeStart?: number | undefined;
  randomizeDuration?: number | undefined;
  modes: Sep2ControlModes;
  /** HexBinary8; envoy always 0x03. */
  responseRequired: number;
  /** Set when cancelled (epoch seconds). */
  cancelledAt?: number | undefined;
  /** Cancelled "with randomisation": currentStatus 3 instead of 2. */
  cancelRandomized?: boolean | undefined;
  supersededAt?: number | undefined;
}

export interface Sep2Program {
  /** Per site, from 1. */
  id: number;
  href: string;
  mrid: string;
  description: string;
  primacy: number;
  site: Sep2Site;
  /** Undefined → served as an empty DefaultDERControl (envoy never answers 404 there). */
  defaultControl: Sep2DefaultControl | undefined;
  /** Every control ever created in it, in creation order (finished and cancelled ones too). */
  controls: Sep2Control[];
}

/** A DERControlResponse the server accepted. */
export interface Sep2RecordedResponse {
  seq: number;
  /** Its Location. */
  href: string;
  /** The EndDevice id of the URL. */
  site: string;
  /** As sent. */
  subject: string;
  /** The control it answers. */
  controlHref: string;
  status: number | undefined;
  createdDateTime: number | undefined;
  endDeviceLfdi: string;
  /** Server clock, epoch milliseconds. */
  receivedAtMs: number;
  body: string;
}

export class Sep2AdminError extends Error {
  constructor(readonly status: 400 | 404 | 409 | 501, message: string) {
    super(message);
    this.name = 'Sep2AdminError';
  }
}

export const badInput = (message: string): Sep2AdminError => new Sep2AdminError(400, message);

/** envoy's MridType nibble (mapper/constants.py). */
const MRID_TYPE = { defaultControl: 1, program: 2, control: 3, fsa: 4 } as const;

/** envoy's mRID layout: type (4 bits), id (92 bits), IANA PEN (32 bits; 0 here), as 32 uppercase hex digits. */
export function encodeMrid(type: keyof typeof MRID_TYPE, id: bigint): string {
  return `${MRID_TYPE[type].toString(16)}${id.toString(16).padStart(23, '0')}00000000`.toUpperCase();
}

export const fsaMrid = (site: Sep2Site): string => encodeMrid('fsa', (BigInt(site.created) << 32n) | 1n);

export interface NewControl {
  mrid?: string | undefined;
  description?: string | undefined;
  start: number;
  duration: number;
  randomizeStart?: number | undefined;
  randomizeDuration?: number | undefined;
  modes: Sep2ControlModes;
  responseRequired?: number | undefined;
}

export interface ControlState {
  currentStatus: 0 | 1 | 2 | 3 | 4;
  /** EventStatus.dateTime and creationTime. */
  changedTime: number;
}

export const controlEnd = (control: Sep2Control): number => control.start + control.duration;

export function controlState(control: Sep2Control, now: number): ControlState {
  if (control.cancelledAt !== undefined) return { currentStatus: control.cancelRandomized ? 3 : 2, changedTime: control.cancelledAt };
  if (control.supersededAt !== undefined) return { currentStatus: 4, changedTime: control.changedAt };
  return { currentStatus: control.start <= now && now < controlEnd(control) ? 1 : 0, changedTime: control.changedAt };
}

const setModes = (modes: Sep2ControlModes): Set<string> => new Set(CONFLICTING_MODES.filter((mode) => modes[mode] !== undefined));

/** envoy's test: same program, overlapping in time, at least one mode in common, old neither cancelled nor superseded. */
export function supersedes(newer: { start: number; duration: number; modes: Sep2ControlModes }, older: Sep2Control): boolean {
  if (older.cancelledAt !== undefined || older.supersededAt !== undefined) return false;
  if (!(older.start < newer.start + newer.duration && newer.start < controlEnd(older))) return false;
  const mine = setModes(newer.modes);
  return [...setModes(older.modes)].some((mode) => mine.has(mode));
}

export class DerProgramStore {
  readonly #programs = new WeakMap<Sep2Site, Sep2Program[]>();
  /** Every recorded DERControlResponse, oldest first (live: the handler's `state.responses`). */
  readonly responses: Sep2RecordedResponse[] = [];
  #controlSeq = 0;
  #defaultSeq = 0;
  #responseSeq = 0;
  readonly #mrids = new Set<string>();

  /** The site's programs in creation order (do not modify). */
  programs(site: Sep2Site): readonly Sep2Program[] {
    return this.#programs.get(site) ?? [];
  }

  /** envoy's list order: primacy ascending, then id descending. */
  listed(site: Sep2Site): Sep2Program[] {
    return [...this.programs(site)].sort((a, b) => a.primacy - b.primacy || b.id - a.id);
  }

  program(site: Sep2Site, id: string): Sep2Program | undefined {
    return /^\d{1,9}$/.test(id) ? this.programs(site).find((program) => program.id === Number(id)) : undefined;
  }

  createProgram(site: Sep2Site, input: { primacy: number; description?: string | undefined; mrid?: string | undefined }): Sep2Program {
    const programs = this.#programs.get(site) ?? [];
    const id = programs.length + 1;
    const mrid = this.#claimMrid(input.mrid, () => encodeMrid('program', (BigInt(id) << 32n) | BigInt(site.created)));
    const program: Sep2Program = {
      id, href: `${site.href}/derp/${id}`, mrid, description: input.description ?? `Program ${id}`, primacy: input.primacy, site,
      defaultControl: undefined, controls: [],
    };
    programs.push(program);
    this.#programs.set(site, programs);
    return program;
  }

  /** Replaces the program's DefaultDERControl (a new mRID each time, as envoy's new default row); null clears it. */
  setDefault(program: Sep2Program, input: { modes: Sep2ControlModes; setGradW?: number | undefined; mrid?: string | undefined } | null): void {
    if (input === null) {
      program.defaultControl = undefined;
      return;
    }
    if (program.defaultControl) this.#mrids.delete(program.defaultControl.mrid.toUpperCase());
    this.#defaultSeq += 1;
    const sequence = this.#defaultSeq;
    program.defaultControl = { mrid: this.#claimMrid(input.mrid, () => encodeMrid('defaultControl', BigInt(sequence))), modes: input.modes, setGradW: input.setGradW };
  }

  /** Inserts a control; returns it with the older controls of its program it superseded. */
  createControl(program: Sep2Program, input: NewControl, now: number): { control: Sep2Control; superseded: Sep2Control[] } {
    this.#controlSeq += 1;
    const id = this.#controlSeq;
    const control: Sep2Control = {
      id, href: `${program.href}/derc/${id}`,
      mrid: this.#claimMrid(input.mrid, () => encodeMrid('control', BigInt(id))),
      description: input.description ?? new Date(input.start * 1000).toISOString().slice(0, 19),
      program, changedAt: now, start: input.start, duration: input.duration,
      randomizeStart: input.randomizeStart, randomizeDuration: input.randomizeDuration,
      modes: input.modes, responseRequired: input.responseRequired ?? 0x03,
    };
    const superseded = program.controls.filter((older) => supersedes(control, older));
    for (const older of superseded) {
      older.supersededAt = now;
      older.changedAt = now;
    }
    program.controls.push(control);
    return { control, superseded };
  }

  /** envoy's delete: the control stays listed with status 2 (3 when randomized) until its original end. */
  cancel(control: Sep2Control, now: number, randomized?: boolean): void {
    if (control.cancelledAt !== undefined) throw new Sep2AdminError(409, `Control ${control.mrid} is already cancelled.`);
    control.cancelledAt = now;
    control.cancelRandomized = randomized ?? control.randomizeStart !== undefined;
  }

  /** A control of the site by mRID (any case), cancelled and finished ones included. */
  findControl(site: Sep2Site, mrid: string): Sep2Control | undefined {
    const wanted = mrid.toUpperCase();
    for (const program of this.programs(site)) {
      const control = program.controls.find((candidate) => candidate.mrid.toUpperCase() === wanted);
      if (control) return control;
    }
    return undefined;
  }

  /** Controls of a program still listed (end in the future, cancelled included), in envoy's order. */
  listedControls(program: Sep2Program, now: number): Sep2Control[] {
    return program.controls.filter((control) => controlEnd(control) > now).sort((a, b) => compareControls(a, b, now));
  }

  /** Controls of a program running now and not cancelled, in envoy's order. */
  activeControls(program: Sep2Program, now: number): Sep2Control[] {
    return program.controls
      .filter((control) => control.cancelledAt === undefined && control.start <= now && now < controlEnd(control))
      .sort((a, b) => compareControls(a, b, now));
  }

  /** Records a Response posted to `{edev}/rsps/site_control/rsp`; its Location is `…/rsp/{seq}`. */
  recordResponse(site: Sep2Site, entry: Omit<Sep2RecordedResponse, 'seq' | 'href' | 'site'>): Sep2RecordedResponse {
    this.#responseSeq += 1;
    const recorded: Sep2RecordedResponse = { seq: this.#responseSeq, href: `${site.href}/rsps/site_control/rsp/${this.#responseSeq}`, site: site.id, ...entry };
    this.responses.push(recorded);
    return recorded;
  }

  #claimMrid(given: string | undefined, generate: () => string): string {
    const mrid = given ?? generate();
    const key = mrid.toUpperCase();
    if (this.#mrids.has(key)) throw new Sep2AdminError(409, `mRID ${mrid} is already in use.`);
    this.#mrids.add(key);
    return mrid;
  }
}

function compareControls(a: Sep2Control, b: Sep2Control, now: number): number {
  return a.start - b.start || controlState(b, now).changedTime - controlState(a, now).changedTime || b.id - a.id;
}
