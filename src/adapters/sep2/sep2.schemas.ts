/**
 * Valibot schemas for the 2030.5 documents the client reads, applied to the namespace-normalized tree from
 * `parseXml`, and their mapping to the plain domain types. Objects are loose: unknown elements and attributes
 * are ignored (reference §4.5), e.g. envoy's non-standard `<message>` in `Error`.
 */
import * as v from 'valibot';
import type {
  ConnectionPointDoc, ControlBaseDoc, DerControlDoc, DerDoc, DerProgramDoc, DeviceCapabilityDoc, EndDeviceDoc, FunctionSetAssignmentsDoc, Link, Sep2Documents, Sep2Kind,
} from '../../domain/sep2-resources.js';
import { describeIssues } from '../../domain/validation.js';
import { parseXml, type CsipausVersion } from './xml.js';

const uint = v.pipe(v.string(), v.regex(/^\d{1,20}$/, 'must be an unsigned integer'));
const int64 = v.pipe(v.string(), v.regex(/^-?\d{1,19}$/, 'must be an integer'));
const hex = v.pipe(v.string(), v.regex(/^([0-9A-Fa-f]{2})*$/, 'must be hexBinary (an even number of hex digits)'));
const bool = v.pipe(v.string(), v.picklist(['true', 'false', '1', '0']));
const LinkSchema = v.looseObject({ '@_href': v.pipe(v.string(), v.minLength(1)) });
const ListLinkSchema = v.looseObject({ '@_href': v.pipe(v.string(), v.minLength(1)), '@_all': v.optional(uint) });
/** A repeated element: one becomes an object, several an array; none is absent. */
const many = <T extends v.GenericSchema>(item: T) =>
  v.pipe(v.optional(v.unknown()), v.transform((x) => (x === undefined ? [] : Array.isArray(x) ? x : [x]) as unknown[]), v.array(item));

const EndDeviceSchema = v.looseObject({
  '@_href': v.optional(v.string()),
  DERListLink: v.optional(ListLinkSchema),
  deviceCategory: v.optional(hex),
  DeviceInformationLink: v.optional(LinkSchema),
  lFDI: v.optional(v.pipe(hex, v.maxLength(40))),
  sFDI: uint,
  changedTime: v.optional(int64),
  enabled: v.optional(bool),
  RegistrationLink: v.optional(LinkSchema),
  FunctionSetAssignmentsListLink: v.optional(ListLinkSchema),
  'csipaus:ConnectionPointLink': v.optional(LinkSchema),
});

const DerSchema = v.looseObject({
  '@_href': v.optional(v.string()),
  DERAvailabilityLink: v.optional(LinkSchema),
  DERCapabilityLink: v.optional(LinkSchema),
  DERSettingsLink: v.optional(LinkSchema),
  DERStatusLink: v.optional(LinkSchema),
});

/** ActivePower and friends: `multiplier` (power of ten) and an Int16 `value`. */
const PowerSchema = v.looseObject({ multiplier: v.pipe(v.string(), v.regex(/^-?\d{1,2}$/)), value: v.pipe(v.string(), v.regex(/^-?\d{1,5}$/)) });
const watts = (p: v.InferOutput<typeof PowerSchema> | undefined): number | undefined => (p ? Number(p.value) * 10 ** Number(p.multiplier) : undefined);
const hexValue = (x: string | undefined): number => (x === undefined || x === '' ? 0 : Number.parseInt(x, 16));

const listAttributes = { '@_all': uint, '@_results': uint, '@_pollRate': v.optional(uint), '@_href': v.optional(v.string()) };

// ---- DER programs and controls (IEEE 2030.5 §10.10, CSIP-AUS DOE modes) ----
const int32 = v.pipe(v.string(), v.regex(/^-?\d{1,10}$/, 'must be an integer'), v.check((x) => Math.abs(Number(x)) <= 2 ** 31, 'is out of range'));
const uint32 = v.pipe(uint, v.check((x) => Number(x) <= 0xffff_ffff, 'exceeds UInt32'));
const mrid = v.pipe(hex, v.minLength(2), v.maxLength(32));
/** A control's ActivePower: PowerOfTenMultiplierType is −9..9, the value an Int16. */
const ControlPower = v.looseObject({
  multiplier: v.pipe(v.string(), v.regex(/^-?\d$/, 'multiplier must be -9..9')),
  value: v.pipe(v.string(), v.regex(/^-?\d{1,5}$/), v.check((x) => Math.abs(Number(x)) <= 32_768, 'value must be an Int16')),
});
/** The DERControlBase elements this client implements; any other element is reported as unsupported. */
const IMPLEMENTED_BASE = ['opModConnect', 'opModEnergize', 'opModFixedW', 'opModMaxLimW', 'rampTms', 'csipaus:opModImpLimW', 'csipaus:opModExpLimW', 'csipaus:opModGenLimW', 'csipaus:opModLoadLimW'];
const ControlBaseFields = v.looseObject({
  opModConnect: v.optional(bool), opModEnergize: v.optional(bool),
  opModFixedW: v.optional(v.pipe(v.string(), v.regex(/^-?\d{1,5}$/, 'opModFixedW is a SignedPerCent'))),
  opModMaxLimW: v.optional(v.pipe(uint, v.check((x) => Number(x) <= 10_000, 'opModMaxLimW is a PerCent (0..10000)'))),
  rampTms: v.optional(v.pipe(uint, v.check((x) => Number(x) <= 0xffff, 'rampTms is a UInt16'))),
  'csipaus:opModImpLimW': v.optional(ControlPower), 'csipaus:opModExpLimW': v.optional(ControlPower),
  'csipaus:opModGenLimW': v.optional(ControlPower), 'csipaus:opModLoadLimW': v.optional(ControlPower),
});
/** An empty `<DERControlBase/>` (envoy's default when none is set, or a cleared one) sets no mode. */
const ControlBaseSchema = v.pipe(v.union([v.literal(''), ControlBaseFields]), v.transform((x) => (x === '' ? {} : x) as v.InferOutput<typeof ControlBaseFields>));
const DerControlSchema = v.looseObject({
  '@_href': v.optional(v.string()), '@_replyTo': v.optional(v.string()), '@_responseRequired': v.optional(hex),
  mRID: mrid, description: v.optional(v.string()), creationTime: int64,
  EventStatus: v.looseObject({ currentStatus: v.pipe(uint, v.check((x) => Number(x) <= 4, 'currentStatus must be 0..4')), dateTime: int64, potentiallySuperseded: bool }),
  interval: v.looseObject({ duration: uint32, start: int64 }),
  randomizeDuration: v.optional(int32), randomizeStart: v.optional(int32),
  DERControlBase: ControlBaseSchema,
});
const DerProgramSchema = v.looseObject({
  '@_href': v.optional(v.string()), mRID: mrid, description: v.optional(v.string()),
  ActiveDERControlListLink: v.optional(ListLinkSchema), DefaultDERControlLink: v.optional(LinkSchema), DERControlListLink: v.optional(ListLinkSchema),
  primacy: v.pipe(uint, v.check((x) => Number(x) <= 255, 'primacy is a UInt8')),
});
const FsaSchema = v.looseObject({ '@_href': v.optional(v.string()), DERProgramListLink: v.optional(ListLinkSchema), TimeLink: v.optional(LinkSchema), mRID: v.optional(mrid) });

export const Sep2Schemas = {
  DeviceCapability: v.looseObject({ '@_pollRate': v.optional(uint), TimeLink: v.optional(LinkSchema), EndDeviceListLink: v.optional(ListLinkSchema) }),
  EndDeviceList: v.looseObject({ ...listAttributes, EndDevice: many(EndDeviceSchema) }),
  EndDevice: EndDeviceSchema,
  Registration: v.looseObject({ '@_href': v.optional(v.string()), dateTimeRegistered: v.optional(int64), pIN: uint }),
  DERList: v.looseObject({ ...listAttributes, DER: many(DerSchema) }),
  DER: DerSchema,
  ConnectionPoint: v.looseObject({ 'csipaus:connectionPointId': v.optional(v.string()), 'csipaus:id': v.optional(v.string()) }),
  Time: v.looseObject({ currentTime: int64 }),
  Error: v.looseObject({ maxRetryDuration: v.optional(uint), reasonCode: uint, message: v.optional(v.string()) }),
  DeviceInformation: v.looseObject({
    functionsImplemented: v.optional(hex),
    gpsLocation: v.optional(v.looseObject({ lat: v.string(), lon: v.string() })),
    lFDI: v.pipe(hex, v.maxLength(40)),
    mfDate: int64, mfHwVer: v.string(), mfID: uint, mfInfo: v.optional(v.string()), mfModel: v.string(), mfSerNum: v.string(),
    primaryPower: uint, secondaryPower: uint, swActTime: int64, swVer: v.string(),
  }),
  DERCapability: v.looseObject({
    modesSupported: hex,
    rtgMaxChargeRateW: v.optional(PowerSchema), rtgMaxDischargeRateW: v.optional(PowerSchema), rtgMaxVA: v.optional(PowerSchema),
    rtgMaxW: PowerSchema, rtgMaxWh: v.optional(PowerSchema), type: uint, 'csipaus:doeModesSupported': v.optional(hex),
  }),
  DERSettings: v.looseObject({ modesEnabled: v.optional(hex), setGradW: uint, setMaxW: PowerSchema, updatedTime: int64, 'csipaus:doeModesEnabled': v.optional(hex) }),
  DERStatus: v.looseObject({ genConnectStatus: v.optional(v.looseObject({ dateTime: int64, value: hex })), readingTime: int64 }),
  FunctionSetAssignmentsList: v.looseObject({ ...listAttributes, FunctionSetAssignments: many(FsaSchema) }),
  DERProgramList: v.looseObject({ ...listAttributes, DERProgram: many(DerProgramSchema) }),
  DERControlList: v.looseObject({ ...listAttributes, DERControl: many(DerControlSchema) }),
  DefaultDERControl: v.looseObject({
    '@_href': v.optional(v.string()), mRID: v.optional(mrid), DERControlBase: ControlBaseSchema,
    setGradW: v.optional(v.pipe(uint, v.check((x) => Number(x) <= 0xffff, 'setGradW is a UInt16'))),
  }),
} as const;

const link = (x: { '@_href': string; '@_all'?: string | undefined } | undefined): Link | undefined =>
  x ? { href: x['@_href'], ...(x['@_all'] !== undefined ? { all: Number(x['@_all']) } : {}) } : undefined;
const toBool = (x: string | undefined): boolean | undefined => (x === undefined ? undefined : x === 'true' || x === '1');
const toNumber = (x: string | undefined): number | undefined => (x === undefined ? undefined : Number(x));

function endDevice(e: v.InferOutput<typeof EndDeviceSchema>): EndDeviceDoc {
  return {
    href: e['@_href'], lfdi: e.lFDI, sfdi: e.sFDI, enabled: toBool(e.enabled),
    registrationLink: link(e.RegistrationLink), deviceInformationLink: link(e.DeviceInformationLink),
    derListLink: link(e.DERListLink), connectionPointLink: link(e['csipaus:ConnectionPointLink']),
    functionSetAssignmentsListLink: link(e.FunctionSetAssignmentsListLink),
  };
}

function der(d: v.InferOutput<typeof DerSchema>): DerDoc {
  return {
    href: d['@_href'], capabilityLink: link(d.DERCapabilityLink), settingsLink: link(d.DERSettingsLink),
    statusLink: link(d.DERStatusLink), availabilityLink: link(d.DERAvailabilityLink),
  };
}

const controlWatts = (p: v.InferOutput<typeof ControlPower> | undefined): number | undefined => (p ? Number(p.value) * 10 ** Number(p.multiplier) : undefined);

function controlBase(b: v.InferOutput<typeof ControlBaseSchema>): ControlBaseDoc {
  return {
    opModConnect: toBool(b.opModConnect), opModEnergize: toBool(b.opModEnergize),
    opModFixedW: toNumber(b.opModFixedW), opModMaxLimW: toNumber(b.opModMaxLimW), rampTms: toNumber(b.rampTms),
    opModImpLimW: controlWatts(b['csipaus:opModImpLimW']), opModExpLimW: controlWatts(b['csipaus:opModExpLimW']),
    opModGenLimW: controlWatts(b['csipaus:opModGenLimW']), opModLoadLimW: controlWatts(b['csipaus:opModLoadLimW']),
    unsupported: Object.keys(b).filter((k) => !k.startsWith('@_') && !k.startsWith('{') && !IMPLEMENTED_BASE.includes(k)),
  };
}

function derControl(c: v.InferOutput<typeof DerControlSchema>): DerControlDoc {
  return {
    href: c['@_href'], mrid: c.mRID.toUpperCase(), description: c.description, creationTime: Number(c.creationTime),
    currentStatus: Number(c.EventStatus.currentStatus), statusTime: Number(c.EventStatus.dateTime), potentiallySuperseded: toBool(c.EventStatus.potentiallySuperseded) ?? false,
    start: Number(c.interval.start), duration: Number(c.interval.duration),
    randomizeStart: Number(c.randomizeStart ?? 0), randomizeDuration: Number(c.randomizeDuration ?? 0),
    base: controlBase(c.DERControlBase), replyTo: c['@_replyTo'], responseRequired: hexValue(c['@_responseRequired']),
  };
}

function derProgram(p: v.InferOutput<typeof DerProgramSchema>): DerProgramDoc {
  return {
    href: p['@_href'], mrid: p.mRID.toUpperCase(), description: p.description, primacy: Number(p.primacy),
    defaultControlLink: link(p.DefaultDERControlLink), controlListLink: link(p.DERControlListLink), activeControlListLink: link(p.ActiveDERControlListLink),
  };
}

const fsa = (f: v.InferOutput<typeof FsaSchema>): FunctionSetAssignmentsDoc => ({ href: f['@_href'], mrid: f.mRID, derProgramListLink: link(f.DERProgramListLink), timeLink: link(f.TimeLink) });

const listOf = (x: { '@_all': string; '@_results': string; '@_pollRate'?: string | undefined }) => ({ all: Number(x['@_all']), results: Number(x['@_results']), pollRate: toNumber(x['@_pollRate']) });

const MAPPERS: { [K in Sep2Kind]: (x: v.InferOutput<(typeof Sep2Schemas)[K]>) => Sep2Documents[K] } = {
  DeviceCapability: (x): DeviceCapabilityDoc => ({ endDeviceListLink: link(x.EndDeviceListLink), timeLink: link(x.TimeLink), pollRate: toNumber(x['@_pollRate']) }),
  EndDeviceList: (x) => ({ all: Number(x['@_all']), results: Number(x['@_results']), pollRate: toNumber(x['@_pollRate']), endDevices: (x.EndDevice ?? []).map(endDevice) }),
  EndDevice: endDevice,
  Registration: (x) => ({ pin: x.pIN, dateTimeRegistered: x.dateTimeRegistered }),
  DERList: (x) => ({ all: Number(x['@_all']), results: Number(x['@_results']), pollRate: toNumber(x['@_pollRate']), ders: (x.DER ?? []).map(der) }),
  DER: der,
  ConnectionPoint: (x): ConnectionPointDoc => ({ connectionPointId: x['csipaus:connectionPointId'] ?? x['csipaus:id'] ?? '' }),
  Time: (x) => ({ currentTime: Number(x.currentTime) }),
  DeviceInformation: (x) => ({
    lfdi: x.lFDI, functionsImplemented: hexValue(x.functionsImplemented), gps: x.gpsLocation ? { lat: x.gpsLocation.lat, lon: x.gpsLocation.lon } : undefined,
    mfDate: Number(x.mfDate), mfHwVer: x.mfHwVer, mfID: Number(x.mfID), mfInfo: x.mfInfo, mfModel: x.mfModel, mfSerNum: x.mfSerNum,
    primaryPower: Number(x.primaryPower), secondaryPower: Number(x.secondaryPower), swActTime: Number(x.swActTime), swVer: x.swVer,
  }),
  DERCapability: (x) => ({
    modesSupported: hexValue(x.modesSupported), rtgMaxChargeRateW: watts(x.rtgMaxChargeRateW), rtgMaxDischargeRateW: watts(x.rtgMaxDischargeRateW),
    rtgMaxVA: watts(x.rtgMaxVA), rtgMaxW: watts(x.rtgMaxW)!, rtgMaxWh: watts(x.rtgMaxWh), type: Number(x.type), doeModesSupported: hexValue(x['csipaus:doeModesSupported']),
  }),
  DERSettings: (x) => ({ modesEnabled: hexValue(x.modesEnabled), setGradW: Number(x.setGradW), setMaxW: watts(x.setMaxW)!, doeModesEnabled: hexValue(x['csipaus:doeModesEnabled']) }),
  DERStatus: (x) => ({ genConnectStatus: hexValue(x.genConnectStatus?.value) }),
  FunctionSetAssignmentsList: (x) => ({ ...listOf(x), assignments: (x.FunctionSetAssignments ?? []).map(fsa) }),
  DERProgramList: (x) => ({ ...listOf(x), programs: (x.DERProgram ?? []).map(derProgram) }),
  DERControlList: (x) => ({ ...listOf(x), controls: (x.DERControl ?? []).map(derControl) }),
  DefaultDERControl: (x) => ({ href: x['@_href'], mrid: x.mRID?.toUpperCase(), base: controlBase(x.DERControlBase), setGradW: toNumber(x.setGradW) }),
};

/** The root element each kind must have. */
const ROOTS: Record<Sep2Kind, string> = {
  DeviceCapability: 'DeviceCapability', EndDeviceList: 'EndDeviceList', EndDevice: 'EndDevice', Registration: 'Registration',
  DERList: 'DERList', DER: 'DER', ConnectionPoint: 'csipaus:ConnectionPoint', Time: 'Time',
  DeviceInformation: 'DeviceInformation', DERCapability: 'DERCapability', DERSettings: 'DERSettings', DERStatus: 'DERStatus',
  FunctionSetAssignmentsList: 'FunctionSetAssignmentsList', DERProgramList: 'DERProgramList', DERControlList: 'DERControlList', DefaultDERControl: 'DefaultDERControl',
};

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** Parses and validates a document of the expected kind. */
export function decodeDocument<K extends Sep2Kind>(kind: K, xml: string): { doc: Sep2Documents[K]; csipaus: CsipausVersion | undefined } {
  const parsed = parseXml(xml);
  if (parsed.root !== ROOTS[kind]) throw new DecodeError(`expected a ${ROOTS[kind]} document, got ${parsed.root}`);
  const result = v.safeParse(Sep2Schemas[kind] as v.GenericSchema, parsed.body);
  if (!result.success) throw new DecodeError(`${kind}: ${describeIssues(result.issues)}`);
  return { doc: (MAPPERS[kind] as (x: unknown) => Sep2Documents[K])(result.output), csipaus: parsed.csipaus };
}

export interface Sep2ErrorBody {
  reasonCode: number;
  maxRetryDuration: number | undefined;
  message: string | undefined;
}

/** An `Error` body, when a failing answer carries a parseable one. */
export function decodeErrorBody(xml: string): Sep2ErrorBody | undefined {
  try {
    const parsed = parseXml(xml);
    if (parsed.root !== 'Error') return undefined;
    const result = v.safeParse(Sep2Schemas.Error, parsed.body);
    if (!result.success) return undefined;
    return { reasonCode: Number(result.output.reasonCode), maxRetryDuration: toNumber(result.output.maxRetryDuration), message: result.output.message };
  } catch {
    return undefined;
  }
}
