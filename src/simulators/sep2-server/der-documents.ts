/**
 * Encoders of the DER function set (IEEE 2030.5 §10.10, CSIP-AUS DOE modes), children in `sep.xsd` order:
 * - FunctionSetAssignments: DERProgramListLink, TimeLink (FunctionSetAssignmentsBase), mRID, description;
 * - DERProgram: mRID, description, ActiveDERControlListLink, DefaultDERControlLink, DERControlListLink, primacy;
 * - DERControl (attributes replyTo, responseRequired): mRID, description, creationTime, EventStatus{currentStatus,
 *   dateTime, potentiallySuperseded}, interval{duration, start}, randomizeDuration, randomizeStart, DERControlBase;
 * - DefaultDERControl: mRID, DERControlBase, setGradW;
 * - DERControlBase: opModConnect, opModEnergize, opModFixedW, opModMaxLimW, rampTms, then the CSIP-AUS
 *   `csipaus:opModImpLimW`, `opModExpLimW`, `opModGenLimW`, `opModLoadLimW` (appended by the CSIP-AUS redefine).
 * CSIP-AUS elements use the server's namespace; a plain 2030.5 server (seed profile) writes them in the v1.2 one,
 * as it does the ConnectionPoint. DERControlList has no pollRate in the schema; the FSA and DERProgram lists do.
 */
import { buildXml, el, opt, type XmlElementSpec } from '../../adapters/sep2/xml.js';
import { controlState, POWER_MODES, type Sep2Control, type Sep2ControlModes, type Sep2DefaultControl, type Sep2Program } from './der-programs.js';
import { link, listAttributes, rooted } from './documents.js';
import type { ResolvedSep2Options } from './options.js';

/** The Response list a site's DERControls name in `replyTo` (envoy's form, docs/csip-aus-der-client.md §0). */
export const responseListHref = (siteHref: string): string => `${siteHref}/rsps/site_control/rsp`;

function derDoc(spec: XmlElementSpec, options: ResolvedSep2Options, usesCsipaus: boolean): string {
  return buildXml(rooted(spec, options.csipaus ?? (usesCsipaus ? '1.2' : null)));
}

const hasPowerModes = (modes: Sep2ControlModes | undefined): boolean => modes !== undefined && POWER_MODES.some((mode) => modes[mode] !== undefined);

export function controlBaseElement(modes: Sep2ControlModes): XmlElementSpec {
  return el('DERControlBase', [
    ...opt('opModConnect', modes.opModConnect),
    ...opt('opModEnergize', modes.opModEnergize),
    ...opt('opModFixedW', modes.opModFixedW),
    ...opt('opModMaxLimW', modes.opModMaxLimW),
    ...opt('rampTms', modes.rampTms),
    ...POWER_MODES.flatMap((mode) => {
      const power = modes[mode];
      return power ? [el(`csipaus:${mode}`, [el('multiplier', String(power.multiplier)), el('value', String(power.value))])] : [];
    }),
  ]);
}

export function functionSetAssignmentsElement(siteHref: string, mrid: string, programCount: number, options: ResolvedSep2Options): XmlElementSpec {
  return el('FunctionSetAssignments', [
    link('DERProgramListLink', `${siteHref}/fsa/1/derp`, programCount),
    link('TimeLink', `${options.hrefPrefix}/tm`),
    el('mRID', mrid),
    el('description', 'DER programs'),
  ], { href: `${siteHref}/fsa/1`, subscribable: '0' });
}

export function functionSetAssignmentsListDocument(href: string, all: number, items: XmlElementSpec[], options: ResolvedSep2Options): string {
  return derDoc(el('FunctionSetAssignmentsList', items, listAttributes(href, all, items.length, options.pollRates.FunctionSetAssignmentsList, true)), options, false);
}

export const functionSetAssignmentsDocument = (element: XmlElementSpec, options: ResolvedSep2Options): string => derDoc(element, options, false);

/** `controls` / `active`: how many controls its DERControlList / ActiveDERControlList hold now. */
export function derProgramElement(program: Sep2Program, controls: number, active: number): XmlElementSpec {
  return el('DERProgram', [
    el('mRID', program.mrid),
    el('description', program.description),
    link('ActiveDERControlListLink', `${program.href}/actderc`, active),
    link('DefaultDERControlLink', `${program.href}/dderc`),
    link('DERControlListLink', `${program.href}/derc`, controls),
    el('primacy', String(program.primacy)),
  ], { href: program.href, subscribable: '0' });
}

export function derProgramListDocument(href: string, all: number, items: XmlElementSpec[], options: ResolvedSep2Options): string {
  return derDoc(el('DERProgramList', items, listAttributes(href, all, items.length, options.pollRates.DERProgramList, true)), options, false);
}

export const derProgramDocument = (element: XmlElementSpec, options: ResolvedSep2Options): string => derDoc(element, options, false);

export function derControlElement(control: Sep2Control, now: number): XmlElementSpec {
  const state = controlState(control, now);
  return el('DERControl', [
    el('mRID', control.mrid),
    el('description', control.description),
    el('creationTime', String(state.changedTime)),
    el('EventStatus', [
      el('currentStatus', String(state.currentStatus)),
      el('dateTime', String(state.changedTime)),
      el('potentiallySuperseded', 'false'),
    ]),
    el('interval', [el('duration', String(control.duration)), el('start', String(control.start))]),
    ...opt('randomizeDuration', control.randomizeDuration),
    ...opt('randomizeStart', control.randomizeStart),
    controlBaseElement(control.modes),
  ], {
    href: control.href,
    replyTo: responseListHref(control.program.site.href),
    responseRequired: control.responseRequired.toString(16).padStart(2, '0').toUpperCase(),
    subscribable: '0',
  });
}

export const derControlDocument = (control: Sep2Control, now: number, options: ResolvedSep2Options): string =>
  derDoc(derControlElement(control, now), options, hasPowerModes(control.modes));

/** A DERControlList (also the ActiveDERControlList, which 2030.5 types as one): paged, `all`/`results`, no pollRate. */
export function derControlListDocument(href: string, all: number, controls: Sep2Control[], now: number, options: ResolvedSep2Options): string {
  const attributes = { href, subscribable: '0', all: String(all), results: String(controls.length) };
  return derDoc(el('DERControlList', controls.map((control) => derControlElement(control, now)), attributes), options, controls.some((control) => hasPowerModes(control.modes)));
}

/** envoy always answers a DefaultDERControl, empty (no modes, no setGradW) when none is set (§3). */
export function defaultDerControlDocument(program: Sep2Program, emptyMrid: string, options: ResolvedSep2Options): string {
  const control: Sep2DefaultControl = program.defaultControl ?? { mrid: emptyMrid, modes: {} };
  return derDoc(el('DefaultDERControl', [
    el('mRID', control.mrid),
    controlBaseElement(control.modes),
    ...opt('setGradW', control.setGradW),
  ], { href: `${program.href}/dderc`, subscribable: '0' }), options, hasPowerModes(control.modes));
}
