/**
 * Response encoders of the test server (reference §3.5–3.15). Every document is in the 2030.5 default namespace
 * (plus `xmlns:csipaus` when the server speaks CSIP-AUS), children in `sep.xsd` order:
 * - DeviceCapability: TimeLink, EndDeviceListLink, MirrorUsagePointListLink (FunctionSetAssignmentsBase first, §3.5);
 * - EndDevice (§3.8): DERListLink, deviceCategory, DeviceInformationLink, lFDI, sFDI, changedTime, enabled,
 *   FunctionSetAssignmentsListLink, postRate, RegistrationLink, SubscriptionListLink, then `csipaus:ConnectionPointLink`
 *   last (appended by the CSIP-AUS `redefine`, §3.9);
 * - lists carry href, subscribable, all, results, pollRate (§3.7);
 * - DER links (§3.12): AssociatedDERProgramListLink, DERAvailabilityLink, DERCapabilityLink, DERSettingsLink, DERStatusLink.
 */
import { buildXml, CSIPAUS_NS, el, opt, SEP_NS, type XmlElementSpec, type XmlValue } from '../../adapters/sep2/xml.js';
import { hexBinary } from '../../adapters/sep2/resources.js';
import { sfdiFromLfdi } from '../../domain/sep2-identity.js';
import type { Sep2Client } from './access.js';
import type { Sep2Refusal } from './errors.js';
import type { ResolvedSep2Options } from './options.js';
import type { Sep2Der, Sep2Site, SiteStore } from './store.js';

type Csipaus = ResolvedSep2Options['csipaus'];

/** Namespace declarations on a document root (children inherit them). */
export function rooted(spec: XmlElementSpec, csipaus: Csipaus): XmlElementSpec {
  const ns: Record<string, string> = { xmlns: SEP_NS, ...(csipaus ? { 'xmlns:csipaus': CSIPAUS_NS[csipaus] } : {}) };
  return { ...spec, attributes: { ...ns, ...spec.attributes } };
}

const doc = (spec: XmlElementSpec, options: ResolvedSep2Options): string => buildXml(rooted(spec, options.csipaus));

export const link = (name: string, href: string, all?: number): XmlElementSpec =>
  el(name, [], all === undefined ? { href } : { href, all: String(all) });

export function deviceCapabilityDocument(options: ResolvedSep2Options, store: SiteStore, visible: number, mirrorUsagePoints = 0): string {
  return doc(el('DeviceCapability', [
    link('TimeLink', `${options.hrefPrefix}/tm`),
    link('EndDeviceListLink', store.listHref, visible),
    link('MirrorUsagePointListLink', `${options.hrefPrefix}/mup`, mirrorUsagePoints),
  ], { href: options.dcapHref, pollRate: String(options.pollRates.DeviceCapability) }), options);
}

/**
 * Time (§3.6) in schema order. The zone is fixed (`tzOffset`, no DST: dstOffset 0 and both DST bounds 0);
 * quality 5 as in the Energy Queensland mock the reference quotes.
 */
export function timeDocument(options: ResolvedSep2Options, nowSeconds: number): string {
  return doc(el('Time', [
    el('currentTime', String(nowSeconds)),
    el('dstEndTime', '0'),
    el('dstOffset', '0'),
    el('dstStartTime', '0'),
    el('localTime', String(nowSeconds + options.tzOffset)),
    el('quality', '5'),
    el('tzOffset', String(options.tzOffset)),
  ], { href: `${options.hrefPrefix}/tm` }), options);
}

export function listAttributes(href: string, all: number, results: number, pollRate: number, subscribable: boolean): Record<string, string> {
  return { href, ...(subscribable ? { subscribable: '0' } : {}), all: String(all), results: String(results), pollRate: String(pollRate) };
}

export function endDeviceListDocument(options: ResolvedSep2Options, href: string, all: number, items: XmlElementSpec[]): string {
  return doc(el('EndDeviceList', items, listAttributes(href, all, items.length, options.pollRates.EndDeviceList, true)), options);
}

/** An empty list resource (SubscriptionList, MirrorUsagePointList). */
export function emptyListDocument(options: ResolvedSep2Options, name: string, href: string): string {
  const subscribable = name === 'FunctionSetAssignmentsList' || name === 'DERProgramList';
  const pollRate = name === 'MirrorUsagePointList' ? options.pollRates.MirrorUsagePointList : options.pollRate;
  return doc(el(name, [], listAttributes(href, 0, 0, pollRate, subscribable)), options);
}

/**
 * A site's EndDevice (§3.8, §3.9); envoy and seed differ in DeviceInformationLink and SubscriptionListLink.
 * `fsaCount`: the FunctionSetAssignments the site has (1 once it has a DER program, der-programs.ts).
 */
export function endDeviceElement(site: Sep2Site, options: ResolvedSep2Options, fsaCount = 0): XmlElementSpec {
  const envoy = options.profile === 'envoy';
  return el('EndDevice', [
    link('DERListLink', `${site.href}/der`, site.ders.length),
    el('deviceCategory', hexBinary(site.deviceCategory, 4)),
    ...(envoy ? [] : [link('DeviceInformationLink', `${site.href}/di`)]),
    el('lFDI', site.lfdi),
    el('sFDI', site.sfdi),
    el('changedTime', String(site.changedTime)),
    el('enabled', String(site.enabled)),
    link('FunctionSetAssignmentsListLink', `${site.href}/fsa`, fsaCount),
    ...opt('postRate', site.postRate),
    ...(options.registrationLink ? [link('RegistrationLink', `${site.href}/rg`)] : []),
    ...(envoy ? [link('SubscriptionListLink', `${site.href}/sub`, 0)] : []),
    ...(options.csipaus ? [link('csipaus:ConnectionPointLink', `${site.href}/cp`)] : []),
  ], { href: site.href, subscribable: '0' });
}

/**
 * envoy's aggregator EndDevice (§3.7): lFDI = certificate LFDI uppercased, its SFDI, deviceCategory 00, no
 * DERListLink or RegistrationLink, only a SubscriptionListLink.
 */
export function virtualEndDeviceElement(client: Sep2Client, store: SiteStore, changedTime: number): XmlElementSpec {
  const href = store.virtualHref();
  return el('EndDevice', [
    el('deviceCategory', '00'),
    el('lFDI', client.lfdi),
    el('sFDI', sfdiFromLfdi(client.lfdi)),
    el('changedTime', String(changedTime)),
    el('enabled', 'true'),
    link('SubscriptionListLink', `${href}/sub`, 0),
  ], { href, subscribable: '0' });
}

export const endDeviceDocument = (element: XmlElementSpec, options: ResolvedSep2Options): string => doc(element, options);

export function registrationDocument(site: Sep2Site, options: ResolvedSep2Options): string {
  return doc(el('Registration', [
    el('dateTimeRegistered', String(site.registeredAt)),
    el('pIN', String(options.pinWithCheck)),
  ], { href: `${site.href}/rg`, pollRate: String(options.pollRates.Registration) }), options);
}

/**
 * A DER; envoy adds AssociatedDERProgramListLink (`programCount`: the site's DER programs); `derLinks: false` strips
 * the seed profile's links (§5.2).
 */
export function derElement(der: Sep2Der, options: ResolvedSep2Options, programCount = 0): XmlElementSpec {
  const envoy = options.profile === 'envoy';
  const links = envoy || options.derLinks
    ? [
        ...(envoy ? [link('AssociatedDERProgramListLink', `${der.href}/derp`, programCount)] : []),
        link('DERAvailabilityLink', `${der.href}/dera`),
        link('DERCapabilityLink', `${der.href}/dercap`),
        link('DERSettingsLink', `${der.href}/derg`),
        link('DERStatusLink', `${der.href}/ders`),
      ]
    : [];
  return el('DER', links, { href: der.href, subscribable: '0' });
}

export const derDocument = (der: Sep2Der, options: ResolvedSep2Options, programCount = 0): string => doc(derElement(der, options, programCount), options);

export function derListDocument(options: ResolvedSep2Options, href: string, all: number, items: XmlElementSpec[]): string {
  return doc(el('DERList', items, listAttributes(href, all, items.length, options.pollRates.DERList, false)), options);
}

/** `csipaus:ConnectionPoint` exists only in CSIP-AUS: a plain 2030.5 server writes it in the v1.2 namespace (§4.4). */
export function connectionPointDocument(site: Sep2Site, options: ResolvedSep2Options): string {
  const spec = el('csipaus:ConnectionPoint', [el('csipaus:connectionPointId', site.nmi)], { href: `${site.href}/cp` });
  return buildXml(rooted(spec, options.csipaus ?? '1.2'));
}

/** Re-encodes a stored PUT body (kept in the order it arrived, which validation held to schema order) with our href. */
export function storedDocument(root: string, body: XmlValue, href: string, options: ResolvedSep2Options): string {
  const [spec] = toSpecs(root, body);
  const usesCsipaus = JSON.stringify(body).includes('"csipaus:');
  return buildXml(rooted({ ...spec!, attributes: { href } }, options.csipaus ?? (usesCsipaus ? '1.2' : null)));
}

function toSpecs(name: string, value: XmlValue | undefined): XmlElementSpec[] {
  if (value === undefined || name.startsWith('{')) return []; // elements of foreign namespaces are not kept
  if (Array.isArray(value)) return value.flatMap((item) => toSpecs(name, item));
  if (typeof value === 'string') return [el(name, value)];
  const children = Object.entries(value).filter(([key]) => !key.startsWith('@_') && key !== '#text');
  if (children.length === 0) return [el(name, typeof value['#text'] === 'string' ? value['#text'] : undefined)];
  return [el(name, children.flatMap(([key, child]) => toSpecs(key, child)))];
}

/**
 * envoy's Error (§3.15): maxRetryDuration?, reasonCode, then the non-standard `message` when there is a text
 * (omitted for injected faults, matching envoy's captured 429).
 */
export function errorDocument(refusal: Sep2Refusal, options: ResolvedSep2Options): string {
  return doc(el('Error', [
    ...opt('maxRetryDuration', refusal.extra.maxRetryDuration),
    el('reasonCode', String(refusal.reasonCode)),
    ...(refusal.message ? [el('message', refusal.message)] : []),
  ]), options);
}
