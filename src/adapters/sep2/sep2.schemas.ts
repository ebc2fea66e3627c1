/**
 * Valibot schemas for the 2030.5 documents the client reads, applied to the namespace-normalized tree from
 * `parseXml`, and their mapping to the plain domain types. Objects are loose: unknown elements and attributes
 * are ignored (reference §4.5), e.g. envoy's non-standard `<message>` in `Error`.
 */
import * as v from 'valibot';
import type {
  ConnectionPointDoc, DerDoc, DeviceCapabilityDoc, EndDeviceDoc, Link, Sep2Documents, Sep2Kind,
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
  v.pipe(v.optional(v.union([v.array(item), item])), v.transform((x) => (x === undefined ? [] : Array.isArray(x) ? x : [x]) as v.InferOutput<T>[]));

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
  };
}

function der(d: v.InferOutput<typeof DerSchema>): DerDoc {
  return {
    href: d['@_href'], capabilityLink: link(d.DERCapabilityLink), settingsLink: link(d.DERSettingsLink),
    statusLink: link(d.DERStatusLink), availabilityLink: link(d.DERAvailabilityLink),
  };
}

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
};

/** The root element each kind must have. */
const ROOTS: Record<Sep2Kind, string> = {
  DeviceCapability: 'DeviceCapability', EndDeviceList: 'EndDeviceList', EndDevice: 'EndDevice', Registration: 'Registration',
  DERList: 'DERList', DER: 'DER', ConnectionPoint: 'csipaus:ConnectionPoint', Time: 'Time',
  DeviceInformation: 'DeviceInformation', DERCapability: 'DERCapability', DERSettings: 'DERSettings', DERStatus: 'DERStatus',
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
