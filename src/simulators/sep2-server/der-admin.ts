/**
 * The operations behind the admin API that drive the DER function set, as a CACTUS run does
 * (docs/csip-aus-der-client.md §0): create programs (with a default control), create controls, cancel them (with or
 * without randomisation), supersede them, set or clear a program's DefaultDERControl and change poll rates.
 *
 * Sites are named by EndDevice id (`"1"`, `"_EQLDEV1"`) or by LFDI (40 hex digits, any case); without `site` an
 * operation applies to every site registered now (409 when there is none). Controls go to `program` (a DERProgram
 * id) or, as CACTUS's `create-der-control`, to the first program by id with the requested `primacy` (default 0),
 * which is created when the site has none. Start times are absolute (`start`, epoch seconds) or relative to the
 * server clock (`startInS`); default now. Power modes are watts (encoded as envoy does: multiplier 0, raised until
 * the value fits an Int16) or an explicit `{ value, multiplier }`.
 *
 * Every input is checked here (valibot), for in-process callers and the HTTP admin alike: a bad one throws a
 * `Sep2AdminError` 400; unknown sites, programs or controls 404; conflicts (mRID in use, nothing superseded,
 * already cancelled) 409.
 */
import * as v from 'valibot';
import { lfdiEquals } from '../../domain/sep2-identity.js';
import { describeIssues } from '../../domain/validation.js';
import {
  badInput, controlEnd, controlState, POWER_MODES, Sep2AdminError, supersedes,
  type DerProgramStore, type NewControl, type Sep2ActivePower, type Sep2Control, type Sep2ControlModes, type Sep2Program,
} from './der-programs.js';
import { POLL_RATE_KINDS, resolvePollRates, type ResolvedSep2Options, type Sep2PollRateKind } from './options.js';
import type { Sep2Site, SiteStore } from './store.js';

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const UINT32 = 0xffff_ffff;
const Power = v.union([
  v.pipe(v.number(), v.finite(), v.check((watts) => Math.abs(watts) < 32_768e9, 'is too large for an ActivePower')),
  v.strictObject({ value: int(-32_768, 32_767), multiplier: int(-9, 9) }),
], 'must be watts or { value, multiplier }');
const Mrid = v.pipe(v.string(), v.regex(/^([0-9A-Fa-f]{2}){1,16}$/, 'must be hexBinary of at most 16 octets (32 hex digits)'));
const SiteRef = v.pipe(v.string(), v.minLength(1));
const modeEntries = {
  opModImpLimW: v.optional(Power), opModExpLimW: v.optional(Power), opModGenLimW: v.optional(Power), opModLoadLimW: v.optional(Power),
  opModConnect: v.optional(v.boolean()), opModEnergize: v.optional(v.boolean()),
  opModFixedW: v.optional(int(-10_000, 10_000)), opModMaxLimW: v.optional(int(0, 10_000)), rampTms: v.optional(int(0, 0xffff)),
};
const MODE_NAMES = Object.keys(modeEntries) as (keyof typeof modeEntries)[];

export const DefaultControlSchema = v.strictObject({ ...modeEntries, setGradW: v.optional(int(0, 0xffff)), mrid: v.optional(Mrid) });
export const ProgramSchema = v.strictObject({
  site: v.optional(SiteRef), primacy: v.optional(int(0, 255)), description: v.optional(v.pipe(v.string(), v.maxLength(32))),
  mrid: v.optional(Mrid), defaultControl: v.optional(DefaultControlSchema),
});
const controlEntries = {
  ...modeEntries,
  mrid: v.optional(Mrid), description: v.optional(v.pipe(v.string(), v.maxLength(32))),
  start: v.optional(int(0, Number.MAX_SAFE_INTEGER)), startInS: v.optional(int(-UINT32, UINT32)),
  randomizeStart: v.optional(int(-3600, 3600)), randomizeDuration: v.optional(int(-3600, 3600)),
  responseRequired: v.optional(v.union([int(0, 255), v.pipe(v.string(), v.regex(/^[0-9A-Fa-f]{2}$/))], 'must be 0..255 or two hex digits')),
};
export const ControlSchema = v.strictObject({
  ...controlEntries, duration: int(1, UINT32), site: v.optional(SiteRef), program: v.optional(int(1, 1e9)), primacy: v.optional(int(0, 255)),
});
export const SupersedeSchema = v.strictObject({ ...controlEntries, duration: v.optional(int(1, UINT32)), site: v.optional(SiteRef), supersede: Mrid });
export const CancelSchema = v.strictObject({ site: v.optional(SiteRef), mrid: v.optional(Mrid), randomized: v.optional(v.boolean()) });
export const DefaultSchema = v.strictObject({ site: v.optional(SiteRef), program: v.optional(int(1, 1e9)), control: v.nullable(DefaultControlSchema) });

export type PowerInput = v.InferInput<typeof Power>;
export type DefaultControlInput = v.InferInput<typeof DefaultControlSchema>;
export type ProgramInput = v.InferInput<typeof ProgramSchema>;
export type ControlInput = v.InferInput<typeof ControlSchema>;
/** `supersede`: the mRID of the control to supersede; omitted fields are copied from it (modes as a whole). */
export type SupersedeInput = v.InferInput<typeof SupersedeSchema>;
/** Without `mrid`: every control of the site(s) still listed and not yet cancelled (CACTUS "cancel all"). */
export type CancelInput = v.InferInput<typeof CancelSchema>;
/** `control: null` clears the default (envoy then serves an empty DefaultDERControl, LOA-03 "cancelled" default). */
export type DefaultInput = v.InferInput<typeof DefaultSchema>;

export function checked<T extends v.GenericSchema>(schema: T, input: unknown, what: string): v.InferOutput<T> {
  const result = v.safeParse(schema, input);
  if (!result.success) throw badInput(`${what}: ${describeIssues(result.issues)}`);
  return result.output;
}

/** Watts as envoy encodes them (`DERControlMapper.map_to_active_power`, configured multiplier 0). */
export function activePower(input: PowerInput): Sep2ActivePower {
  if (typeof input !== 'number') return { value: input.value, multiplier: input.multiplier };
  let multiplier = 0;
  while (Math.abs(Math.trunc(input / 10 ** multiplier)) > 32_767) multiplier += 1;
  return { value: Math.trunc(input / 10 ** multiplier) + 0, multiplier };
}

function modesOf(input: Partial<Record<keyof typeof modeEntries, unknown>>): Sep2ControlModes {
  const modes: Sep2ControlModes = {};
  for (const name of MODE_NAMES) {
    const value = input[name];
    if (value === undefined) continue;
    if ((POWER_MODES as readonly string[]).includes(name)) (modes as Record<string, unknown>)[name] = activePower(value as PowerInput);
    else (modes as Record<string, unknown>)[name] = value;
  }
  return modes;
}

const hasModes = (input: Partial<Record<keyof typeof modeEntries, unknown>>): boolean => MODE_NAMES.some((name) => input[name] !== undefined);

// ---- views (what the admin API answers) ----------------------------------------------------------------------------

export interface ControlView {
  site: string;
  program: string;
  id: number;
  href: string;
  mrid: string;
  description: string;
  creationTime: number;
  currentStatus: number;
  statusTime: number;
  start: number;
  duration: number;
  end: number;
  randomizeStart: number | null;
  randomizeDuration: number | null;
  responseRequired: number;
  modes: Sep2ControlModes;
  /** Still in the DERControlList (its end ahead). */
  listed: boolean;
  cancelled: boolean;
  superseded: boolean;
}

export interface ProgramView {
  site: string;
  id: number;
  href: string;
  mrid: string;
  description: string;
  primacy: number;
  defaultControl: { mrid: string; modes: Sep2ControlModes; setGradW: number | null } | null;
}

export function controlView(control: Sep2Control, now: number): ControlView {
  const state = controlState(control, now);
  return {
    site: control.program.site.id, program: control.program.href, id: control.id, href: control.href, mrid: control.mrid, description: control.description,
    creationTime: state.changedTime, currentStatus: state.currentStatus, statusTime: state.changedTime,
    start: control.start, duration: control.duration, end: controlEnd(control),
    randomizeStart: control.randomizeStart ?? null, randomizeDuration: control.randomizeDuration ?? null,
    responseRequired: control.responseRequired, modes: control.modes,
    listed: controlEnd(control) > now, cancelled: control.cancelledAt !== undefined, superseded: control.supersededAt !== undefined,
  };
}

export function programView(program: Sep2Program): ProgramView {
  const { defaultControl } = program;
  return {
    site: program.site.id, id: program.id, href: program.href, mrid: program.mrid, description: program.description, primacy: program.primacy,
    defaultControl: defaultControl ? { mrid: defaultControl.mrid, modes: defaultControl.modes, setGradW: defaultControl.setGradW ?? null } : null,
  };
}

// ---- operations ------------------------------------------------------------------------------------------------------

export class DerAdmin {
  constructor(
    private readonly options: ResolvedSep2Options,
    private readonly store: SiteStore,
    private readonly programs: DerProgramStore,
  ) {}

  #now(): number {
    return Math.floor(this.options.now() / 1000);
  }

  /** The sites named by `site` (id or LFDI), or all of them. */
  sites(site: string | undefined): Sep2Site[] {
    if (site === undefined) {
      if (this.store.sites.length === 0) throw new Sep2AdminError(409, 'No EndDevice is registered yet.');
      return [...this.store.sites];
    }
    const found = this.store.byId(site) ?? (/^[0-9A-Fa-f]{40}$/.test(site) ? this.store.sites.find((candidate) => lfdiEquals(candidate.lfdi, site)) : undefined);
    if (!found) throw new Sep2AdminError(404, `No EndDevice ${site}.`);
    return [found];
  }

  #single(sites: Sep2Site[], mrid: string | undefined): void {
    if (mrid !== undefined && sites.length > 1) throw badInput('An explicit mrid needs a single site (mRIDs are unique).');
  }

  createProgram(input: ProgramInput): ProgramView[] {
    const request = checked(ProgramSchema, input, 'program');
    const sites = this.sites(request.site);
    this.#single(sites, request.mrid ?? request.defaultControl?.mrid);
    return sites.map((site) => {
      const program = this.programs.createProgram(site, { primacy: request.primacy ?? 0, description: request.description, mrid: request.mrid });
      if (request.defaultControl) this.programs.setDefault(program, defaultOf(request.defaultControl));
      return programView(program);
    });
  }

  createControl(input: ControlInput): ControlView[] {
    const request = checked(ControlSchema, input, 'control');
    const sites = this.sites(request.site);
    this.#single(sites, request.mrid);
    const now = this.#now();
    const spec = this.#newControl(request, now, undefined);
    const targets = sites.map((site) => this.#programFor(site, request.program, request.primacy));
    return targets.map((program) => controlView(this.programs.createControl(program, spec, now).control, now));
  }

  supersedeControl(input: SupersedeInput): ControlView[] {
    const request = checked(SupersedeSchema, input, 'supersede');
    const now = this.#now();
    const old = this.#control(request.site, request.supersede);
    const spec = this.#newControl(request, now, old);
    if (!supersedes(spec, old)) {
      throw new Sep2AdminError(409, `The new control would not supersede ${old.mrid}: it must overlap it in time and set one of its modes, and ${old.mrid} must be neither cancelled nor superseded.`);
    }
    const { control, superseded } = this.programs.createControl(old.program, spec, now);
    return [controlView(control, now), ...superseded.map((older) => controlView(older, now))];
  }

  cancelControl(input: CancelInput): ControlView[] {
    const request = checked(CancelSchema, input, 'cancel');
    const now = this.#now();
    const controls = request.mrid !== undefined
      ? [this.#control(request.site, request.mrid)]
      : this.sites(request.site).flatMap((site) => this.programs.programs(site).flatMap((program) =>
          program.controls.filter((control) => control.cancelledAt === undefined && controlEnd(control) > now)));
    for (const control of controls) this.programs.cancel(control, now, request.randomized);
    return controls.map((control) => controlView(control, now));
  }

  /** Sets (replaces) or clears the DefaultDERControl of `program`, or of the site's first program by envoy's order. */
  setDefaultControl(input: DefaultInput): ProgramView[] {
    const request = checked(DefaultSchema, input, 'default control');
    const sites = this.sites(request.site);
    this.#single(sites, request.control?.mrid);
    return sites.map((site) => {
      const program = request.program !== undefined
        ? this.#program(site, request.program)
        : this.programs.listed(site)[0] ?? this.programs.createProgram(site, { primacy: 0 });
      this.programs.setDefault(program, request.control === null ? null : defaultOf(request.control));
      return programView(program);
    });
  }

  setPollRates(input: Partial<Record<Sep2PollRateKind, number>>): Record<Sep2PollRateKind, number> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw badInput(`poll rates: an object with any of ${POLL_RATE_KINDS.join(', ')}`);
    let rates: Record<Sep2PollRateKind, number>;
    try {
      rates = resolvePollRates(input, 0);
    } catch (error) {
      throw badInput((error as Error).message);
    }
    for (const kind of Object.keys(input) as Sep2PollRateKind[]) this.options.pollRates[kind] = rates[kind];
    return { ...this.options.pollRates };
  }

  #program(site: Sep2Site, id: number): Sep2Program {
    const program = this.programs.program(site, String(id));
    if (!program) throw new Sep2AdminError(404, `EndDevice ${site.id} has no DERProgram ${id}.`);
    return program;
  }

  /** CACTUS: the first program by id with this primacy, created when there is none. */
  #programFor(site: Sep2Site, id: number | undefined, primacy: number | undefined): Sep2Program {
    if (id !== undefined) return this.#program(site, id);
    const wanted = primacy ?? 0;
    return this.programs.programs(site).find((program) => program.primacy === wanted) ?? this.programs.createProgram(site, { primacy: wanted });
  }

  #control(site: string | undefined, mrid: string): Sep2Control {
    const sites = site === undefined ? this.store.sites : this.sites(site);
    for (const candidate of sites) {
      const control = this.programs.findControl(candidate, mrid);
      if (control) return control;
    }
    throw new Sep2AdminError(404, `No DERControl with mRID ${mrid}${site === undefined ? '' : ` on EndDevice ${site}`}.`);
  }

  #newControl(request: v.InferOutput<typeof SupersedeSchema> | v.InferOutput<typeof ControlSchema>, now: number, old: Sep2Control | undefined): NewControl {
    if (request.start !== undefined && request.startInS !== undefined) throw badInput('Give start or startInS, not both.');
    const start = request.start ?? (request.startInS !== undefined ? now + request.startInS : old?.start ?? now);
    const duration = request.duration ?? old?.duration;
    if (duration === undefined) throw badInput('duration is required.');
    const responseRequired = typeof request.responseRequired === 'string' ? Number.parseInt(request.responseRequired, 16) : request.responseRequired;
    return {
      mrid: request.mrid, description: request.description, start, duration,
      randomizeStart: request.randomizeStart ?? old?.randomizeStart,
      randomizeDuration: request.randomizeDuration ?? old?.randomizeDuration,
      modes: hasModes(request) || !old ? modesOf(request) : { ...old.modes },
      responseRequired: responseRequired ?? old?.responseRequired,
    };
  }
}

function defaultOf(input: v.InferOutput<typeof DefaultControlSchema>): { modes: Sep2ControlModes; setGradW?: number | undefined; mrid?: string | undefined } {
  return { modes: modesOf(input), setGradW: input.setGradW, mrid: input.mrid };
}
