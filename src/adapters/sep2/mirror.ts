/**
 * The metering-mirror documents (IEEE 2030.5 §10.7): encoders of MirrorUsagePoint and MirrorMeterReading in
 * sep.xsd element order, and valibot decoders of what the client reads back: the DeviceCapability's
 * MirrorUsagePointListLink, the MirrorUsagePointList (with its `pollRate`, the post rate CACTUS sets) and a
 * MirrorUsagePoint. Decoders work on the namespace-normalized tree of `parseXml`; objects are loose (unknown
 * elements are ignored).
 *
 * Element order (sep.xsd): MirrorUsagePoint = mRID, description, version, roleFlags, serviceCategoryKind, status,
 * deviceLFDI, MirrorMeterReading*, postRate; MirrorMeterReading = mRID, description, version, lastUpdateTime,
 * MirrorReadingSet*, nextUpdateTime, Reading, ReadingType; Reading = qualityFlags, timePeriod (duration, start),
 * value; ReadingType = commodity, dataQualifier, flowDirection, intervalLength, kind, phase, powerOfTenMultiplier, uom.
 */
import * as v from 'valibot';
import { normalizeLfdi } from '../../domain/sep2-identity.js';
import { SERVICE_ELECTRICITY, type ReadingTypeSpec } from '../../domain/telemetry.js';
import { describeIssues } from '../../domain/validation.js';
import { hexBinary } from './resources.js';
import { buildXml, el, parseXml, SEP_NS, type XmlElementSpec } from './xml.js';

export interface MirrorUsagePointData {
  mrid: string;
  description: string;
  roleFlags: number;
  lfdi: string;
  /** The reading types of this usage point, each with its MirrorMeterReading mRID. */
  readings: { mrid: string; type: ReadingTypeSpec }[];
  /** The interval length the readings will have, seconds (ReadingType.intervalLength). */
  intervalLengthS: number;
}

const root = (name: string, children: XmlElementSpec[]): XmlElementSpec => el(name, children, { xmlns: SEP_NS });

function readingType(type: ReadingTypeSpec, intervalLengthS: number): XmlElementSpec {
  return el('ReadingType', [
    el('commodity', String(type.commodity)),
    el('dataQualifier', String(type.dataQualifier)),
    el('flowDirection', String(type.flowDirection)),
    el('intervalLength', String(intervalLengthS)),
    el('kind', String(type.kind)),
    el('phase', String(type.phase)),
    el('powerOfTenMultiplier', String(type.powerOfTenMultiplier)),
    el('uom', String(type.uom)),
  ]);
}

/** A MirrorUsagePoint to POST to the MirrorUsagePointList: status 1 (on), electricity, each reading's ReadingType. */
export function encodeMirrorUsagePoint(d: MirrorUsagePointData): string {
  return buildXml(root('MirrorUsagePoint', [
    el('mRID', d.mrid),
    el('description', d.description.slice(0, 32)),
    el('roleFlags', hexBinary(d.roleFlags, 2)),
    el('serviceCategoryKind', String(SERVICE_ELECTRICITY)),
    el('status', '1'),
    el('deviceLFDI', normalizeLfdi(d.lfdi)),
    ...d.readings.map((r) => el('MirrorMeterReading', [
      el('mRID', r.mrid),
      el('description', r.type.description.slice(0, 32)),
      readingType(r.type, d.intervalLengthS),
    ])),
  ]));
}

export interface MirrorMeterReadingData {
  mrid: string;
  description?: string | undefined;
  startS: number;
  durationS: number;
  value: number;
  qualityFlags: number;
  /** When the next reading is due (epoch seconds). */
  nextUpdateS?: number | undefined;
}

/** One interval's reading, POSTed to the MirrorUsagePoint (envoy takes one MirrorMeterReading per POST). */
export function encodeMirrorMeterReading(d: MirrorMeterReadingData): string {
  if (!Number.isSafeInteger(d.value) || Math.abs(d.value) >= 2 ** 47) throw new RangeError(`reading value ${d.value} is not an Int48`);
  return buildXml(root('MirrorMeterReading', [
    el('mRID', d.mrid),
    ...(d.description ? [el('description', d.description.slice(0, 32))] : []),
    el('lastUpdateTime', String(d.startS + d.durationS)),
    ...(d.nextUpdateS !== undefined ? [el('nextUpdateTime', String(d.nextUpdateS))] : []),
    el('Reading', [
      ...(d.qualityFlags ? [el('qualityFlags', hexBinary(d.qualityFlags, 2))] : []),
      el('timePeriod', [el('duration', String(d.durationS)), el('start', String(d.startS))]),
      el('value', String(d.value)),
    ]),
  ]));
}

// ---- decoders -----------------------------------------------------------------------------------------------

const uint = v.pipe(v.string(), v.regex(/^\d{1,10}$/, 'must be an unsigned integer'), v.check((x) => Number(x) <= 0xffff_ffff, 'exceeds UInt32'));
const hex = v.pipe(v.string(), v.regex(/^([0-9A-Fa-f]{2})*$/, 'must be hexBinary'));
const LinkSchema = v.looseObject({ '@_href': v.pipe(v.string(), v.minLength(1)) });
const many = <T extends v.GenericSchema>(item: T) =>
  v.pipe(v.optional(v.unknown()), v.transform((x) => (x === undefined ? [] : Array.isArray(x) ? x : [x]) as unknown[]), v.array(item));

const MupSchema = v.looseObject({
  '@_href': v.optional(v.string()),
  mRID: v.pipe(hex, v.minLength(2), v.maxLength(32)),
  description: v.optional(v.string()),
  roleFlags: v.pipe(hex, v.maxLength(4)),
  status: v.optional(uint),
  deviceLFDI: v.optional(v.pipe(hex, v.maxLength(40))),
  MirrorMeterReading: many(v.looseObject({ mRID: v.pipe(hex, v.minLength(2), v.maxLength(32)) })),
  postRate: v.optional(uint),
});
const MupListSchema = v.looseObject({ '@_all': uint, '@_results': uint, '@_pollRate': v.optional(uint), MirrorUsagePoint: many(MupSchema) });
const DcapSchema = v.looseObject({ '@_pollRate': v.optional(uint), MirrorUsagePointListLink: v.optional(LinkSchema) });

export interface MirrorUsagePointDoc {
  href: string | undefined;
  mrid: string;
  roleFlags: number;
  deviceLfdi: string | undefined;
  readingMrids: string[];
  postRate: number | undefined;
}

export interface MirrorUsagePointListDoc {
  all: number;
  results: number;
  /** The list's pollRate: how often to read it, and the post rate of its usage points unless they carry their own. */
  pollRate: number | undefined;
  usagePoints: MirrorUsagePointDoc[];
}

export class MirrorDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MirrorDecodeError';
  }
}

function decode<T extends v.GenericSchema>(xml: string, rootName: string, schema: T): v.InferOutput<T> {
  const parsed = parseXml(xml);
  if (parsed.root !== rootName) throw new MirrorDecodeError(`expected a ${rootName} document, got ${parsed.root}`);
  const result = v.safeParse(schema, parsed.body);
  if (!result.success) throw new MirrorDecodeError(`${rootName}: ${describeIssues(result.issues)}`);
  return result.output;
}

const usagePoint = (m: v.InferOutput<typeof MupSchema>): MirrorUsagePointDoc => ({
  href: m['@_href'], mrid: m.mRID.toUpperCase(), roleFlags: m.roleFlags === '' ? 0 : Number.parseInt(m.roleFlags, 16),
  deviceLfdi: m.deviceLFDI?.toUpperCase(), readingMrids: (m.MirrorMeterReading ?? []).map((r) => (r as { mRID: string }).mRID.toUpperCase()),
  postRate: m.postRate === undefined ? undefined : Number(m.postRate),
});

export function decodeMirrorUsagePointList(xml: string): MirrorUsagePointListDoc {
  const x = decode(xml, 'MirrorUsagePointList', MupListSchema);
  return {
    all: Number(x['@_all']), results: Number(x['@_results']), pollRate: x['@_pollRate'] === undefined ? undefined : Number(x['@_pollRate']),
    usagePoints: ((x.MirrorUsagePoint ?? []) as v.InferOutput<typeof MupSchema>[]).map(usagePoint),
  };
}

export function decodeMirrorUsagePoint(xml: string): MirrorUsagePointDoc {
  return usagePoint(decode(xml, 'MirrorUsagePoint', MupSchema));
}

/** The DeviceCapability's MirrorUsagePointListLink (undefined when the server offers no metering mirror). */
export function decodeMirrorListLink(xml: string): { href: string | undefined; pollRate: number | undefined } {
  const x = decode(xml, 'DeviceCapability', DcapSchema);
  return { href: x.MirrorUsagePointListLink?.['@_href'], pollRate: x['@_pollRate'] === undefined ? undefined : Number(x['@_pollRate']) };
}
