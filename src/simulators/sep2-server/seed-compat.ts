/**
 * The seed profile's tolerance of envoy-client 0.1.1's wire format (reference §1.2, §6.1), so that code built on
 * envoy-client runs against the server its README describes (Profile A, §5.2) — and learns, request by request,
 * what a correct client does differently. Every deviation accepted here is reported as a warning naming the rule
 * it breaks ("… (accepted by the seed profile)"); the envoy profile accepts none of them.
 *
 * The dialect is recognised per document: a body whose root element has **no namespace at all** is an envoy-client
 * document (a "legacy" body, inbound.ts). Only in such a body are digit-only hexBinary values read as decimal (what
 * envoy-client writes), `0x…` and decimal LFDIs accepted, element order not enforced and the CSIP-AUS
 * ConnectionPoint's invented `connectionPointID`/`meterID` read; it cannot pass any schema, so XSD validation is
 * skipped for it, but the structural checks (root element, required fields, value ranges) still answer 400. A
 * namespaced body is held to the standard in both profiles. The header and identifier rules (Content-Type, Accept,
 * an SFDI that does not derive from its LFDI) apply to every request of the seed profile.
 */
import { hexBinary } from '../../adapters/sep2/resources.js';
import type { XmlObject, XmlValue } from '../../adapters/sep2/xml.js';
import { sfdiFromLfdi } from '../../domain/sep2-identity.js';
import { badRequest } from './errors.js';
import { hexValue, unsigned } from './inbound.js';

export type Warn = (message: string) => void;

/** The suffix of every warning. */
export const ACCEPTED = '(accepted by the seed profile)';

const SEP_MEDIA = 'application/sep+xml';

// ---- headers (reference §2.1, §6.1 defect 2) ---------------------------------------------------------------------

/** `Accept` must admit, and the `Content-Type` of a body must be, `application/sep+xml`. */
export function checkHeaders(method: string, headers: Record<string, string | undefined>, body: string, warn: Warn): void {
  const accept = headers.accept;
  if (accept === undefined || accept.trim() === '') warn(`no Accept header: IEEE 2030.5 clients send Accept: ${SEP_MEDIA} ${ACCEPTED}`);
  else if (!admitsSepXml(accept)) warn(`Accept ${accept} does not admit ${SEP_MEDIA}: IEEE 2030.5 answers are ${SEP_MEDIA} ${ACCEPTED}`);
  if (method !== 'POST' && method !== 'PUT' && body === '') return;
  const contentType = headers['content-type'];
  if (contentType === undefined || contentType.trim() === '') {
    warn(`no Content-Type: IEEE 2030.5 requires Content-Type: ${SEP_MEDIA} on ${method} ${ACCEPTED}`);
  } else if (mediaType(contentType) !== SEP_MEDIA) {
    warn(`Content-Type ${contentType}: IEEE 2030.5 requires ${SEP_MEDIA} ${ACCEPTED}`);
  }
}

const mediaType = (value: string): string => (value.split(';')[0] ?? '').trim().toLowerCase();

function admitsSepXml(accept: string): boolean {
  return accept.split(',').some((range) => {
    const type = mediaType(range);
    const q = /;\s*q\s*=\s*([\d.]+)/i.exec(range);
    return (type === SEP_MEDIA || type === 'application/*' || type === '*/*') && (q === null || Number(q[1]) > 0);
  });
}

// ---- values (reference §3.1, §3.3, §6.1 defects 3, 4) ------------------------------------------------------------

/** The dialect of one request body, as inbound.ts recognised it. */
export interface Dialect {
  /** True for an envoy-client document: its root has no namespace (seed profile only). */
  legacy: boolean;
}

const DECIMAL = /^(?:0|[1-9]\d*)$/;

/**
 * A hexBinary field (`deviceCategory` HexBinary32, `functionsImplemented` HexBinary64, `modesSupported`
 * HexBinary32). In a legacy body a digit-only value without a leading zero is envoy-client's decimal (262144 =
 * hex 040000, bit 18); anything else must be hexBinary as in the standard. Returns the value.
 */
export function hexField(value: string, name: string, octets: number, type: string, dialect: Dialect, warn: Warn): bigint {
  if (!dialect.legacy || !DECIMAL.test(value)) return hexValue(value, name, octets);
  const number = BigInt(value);
  if (number >= 1n << BigInt(octets * 8)) throw badRequest(`${name} ${value} (read as decimal) exceeds ${type}.`);
  let note = '';
  if (name === 'functionsImplemented' && (number & (1n << 19n)) !== 0n && (number & (1n << 20n)) === 0n) {
    note = '; bit 19 is Flow Reservation: envoy-client 0.1.1 shifts its enum by one bit, DER Control is bit 20 (100000)';
  }
  warn(`${name} ${value} is decimal: IEEE 2030.5 ${type} is hexBinary; read as decimal = hex ${hexBinary(number, octets)}${note} ${ACCEPTED}`);
  return number;
}

/**
 * An LFDI field (HexBinary160). A legacy body may write it as `0x…` or as a decimal number (envoy-client passes an
 * integer: `0x21352135135`, `1172794507551`); its hex digits (of the decimal value) are stored uppercase and
 * right-padded to 40 — the rule `register` applies to such an LFDI in its config (registration.config.ts
 * `siteLfdi`), so a client migrated from envoy-client finds the EndDevice it registered, and the SFDI keeps the
 * digits. Any other value is checked as in the standard and returned as written.
 */
export function lfdiField(value: string, name: string, dialect: Dialect, warn: Warn): string {
  if (dialect.legacy && !/^[0-9A-Fa-f]{40}$/.test(value)) {
    const hex = /^0[xX][0-9A-Fa-f]+$/.test(value);
    if (hex || /^\d+$/.test(value)) {
      const digits = hex ? value.slice(2) : BigInt(value).toString(16);
      if (digits.length > 40) throw badRequest(`${name} ${value} has more than 40 hex digits (160 bits).`);
      const stored = digits.toUpperCase().padEnd(40, '0');
      const padded = digits.length < 40 ? ' (right-padded to 40 hex digits)' : '';
      warn(hex
        ? `${name} ${value} is written with 0x: IEEE 2030.5 LFDI (HexBinary160) is 40 hex digits without 0x; stored as ${stored}${padded} ${ACCEPTED}`
        : `${name} ${value} is a decimal number: IEEE 2030.5 LFDI (HexBinary160) is 40 hex digits; read as decimal = hex ${digits.toUpperCase()}, stored as ${stored}${padded} ${ACCEPTED}`);
      return stored;
    }
  }
  hexValue(value, name, 20);
  return value;
}

/** The sFDI (SFDIType = UInt40); a legacy body may carry envoy-client's 13-digit SFDIs (§6.1 defect 7). Decimal text. */
export function sfdiField(value: string, dialect: Dialect, warn: Warn): string {
  if (!dialect.legacy) return unsigned(value, 'sFDI', 40).toString();
  const number = unsigned(value, 'sFDI', 64);
  if (number >= 1n << 40n) warn(`sFDI ${value} exceeds UInt40: IEEE 2030.5 SFDIType is a UInt40 of at most 12 digits ${ACCEPTED}`);
  return number.toString();
}

// ---- SFDI (reference §3.2, §6.1 defect 7) ------------------------------------------------------------------------

/**
 * envoy-client 0.1.1's SFDI: the 36 most significant bits of the LFDI *value* (leading zero bits ignored), then
 * `10 − digitsum mod 10` without the final `mod 10` (so "10" may be appended). Undefined where it raises (an LFDI
 * shorter than 36 bits). Reproduces the reference's "seed result" column.
 */
export function envoyClientSfdi(lfdiHex: string): string | undefined {
  const value = BigInt(`0x${lfdiHex}`);
  const bits = value.toString(2).length;
  if (value === 0n || bits < 36) return undefined;
  const top = (value >> BigInt(bits - 36)).toString(10);
  const sum = [...top].reduce((total, digit) => total + Number(digit), 0);
  return `${top}${10 - (sum % 10)}`;
}

/** The standard SFDI of a 40-hex LFDI, or undefined for anything else (a short hexBinary LFDI has none). */
export const standardSfdi = (lfdi: string): string | undefined => (/^[0-9A-Fa-f]{40}$/.test(lfdi) ? sfdiFromLfdi(lfdi) : undefined);

/**
 * An aggregator's managed-device sFDI that does not derive from its lFDI (§3.8: envoy does not check it, the
 * CSIP-AUS harness does). The seed profile accepts it with a warning.
 */
export function checkManagedSfdi(sfdi: string, lfdi: string, warn: Warn): void {
  const expected = standardSfdi(lfdi);
  if (expected === undefined || BigInt(expected) === BigInt(sfdi)) return;
  const seed = envoyClientSfdi(lfdi) === sfdi ? `; ${sfdi} is what envoy-client 0.1.1's SFDI algorithm gives` : '';
  warn(`sFDI ${sfdi} is not the SFDI of lFDI ${lfdi}: IEEE 2030.5 §6.3.5 derives ${expected} (its first 9 hex digits as decimal plus a check digit)${seed} ${ACCEPTED}`);
}

// ---- element order (reference §3.1, §6.1 defect 5) ----------------------------------------------------------------

/** sep.xsd order of the elements envoy-client writes (AbstractDevice then EndDevice; CSIP-AUS appends last). */
export const END_DEVICE_ORDER = [
  'ConfigurationLink', 'DERListLink', 'deviceCategory', 'DeviceInformationLink', 'DeviceStatusLink', 'FileStatusLink',
  'IPInterfaceListLink', 'lFDI', 'LoadShedAvailabilityListLink', 'LogEventListLink', 'PowerStatusLink', 'sFDI',
  'changedTime', 'enabled', 'FlowReservationRequestListLink', 'FlowReservationResponseListLink',
  'FunctionSetAssignmentsListLink', 'postRate', 'RegistrationLink', 'SubscriptionListLink', 'csipaus:ConnectionPointLink',
];
export const DEVICE_INFORMATION_ORDER = [
  'DRLCCapabilities', 'functionsImplemented', 'gpsLocation', 'lFDI', 'mfDate', 'mfHwVer', 'mfID', 'mfInfo', 'mfModel',
  'mfSerNum', 'primaryPower', 'secondaryPower', 'SupportedLocaleListLink', 'swActTime', 'swVer',
];
export const GPS_LOCATION_ORDER = ['lat', 'lon'];
export const DER_CAPABILITY_ORDER = [
  'modesSupported', 'rtgAbnormalCategory', 'rtgMaxA', 'rtgMaxAh', 'rtgMaxChargeRateVA', 'rtgMaxChargeRateW',
  'rtgMaxDischargeRateVA', 'rtgMaxDischargeRateW', 'rtgMaxV', 'rtgMaxVA', 'rtgMaxVar', 'rtgMaxVarNeg', 'rtgMaxW',
  'rtgMaxWh', 'rtgMinPFOverExcited', 'rtgMinPFUnderExcited', 'rtgMinV', 'rtgNormalCategory', 'rtgOverExcitedPF',
  'rtgOverExcitedW', 'rtgReactiveSusceptance', 'rtgUnderExcitedPF', 'rtgUnderExcitedW', 'rtgVNom', 'type',
  'csipaus:doeModesSupported',
];
/** The value types of DERCapability's ratings (sep.xsd): multiplier then value, except PowerFactor (§3.1). */
const RATING_TYPES: Record<string, string> = {
  rtgMaxA: 'CurrentRMS', rtgMaxAh: 'AmpereHour', rtgMaxChargeRateVA: 'ApparentPower', rtgMaxChargeRateW: 'ActivePower',
  rtgMaxDischargeRateVA: 'ApparentPower', rtgMaxDischargeRateW: 'ActivePower', rtgMaxV: 'VoltageRMS', rtgMaxVA: 'ApparentPower',
  rtgMaxVar: 'ReactivePower', rtgMaxVarNeg: 'ReactivePower', rtgMaxW: 'ActivePower', rtgMaxWh: 'WattHour',
  rtgMinPFOverExcited: 'PowerFactor', rtgMinPFUnderExcited: 'PowerFactor', rtgMinV: 'VoltageRMS', rtgOverExcitedPF: 'PowerFactor',
  rtgOverExcitedW: 'ActivePower', rtgReactiveSusceptance: 'ReactiveSusceptance', rtgUnderExcitedPF: 'PowerFactor',
  rtgUnderExcitedW: 'ActivePower', rtgVNom: 'VoltageRMS',
};
const VALUE_ORDER = ['multiplier', 'value'];
const POWER_FACTOR_ORDER = ['displacement', 'multiplier'];

const elementKeys = (body: XmlObject): string[] => Object.keys(body).filter((key) => !key.startsWith('@_') && key !== '#text');

/** Warns at the first element of `body` that comes after one the schema puts behind it. */
export function checkOrder(body: XmlObject, order: readonly string[], where: string, type: string, warn: Warn): void {
  let latest: string | undefined;
  for (const key of elementKeys(body)) {
    const index = order.indexOf(key);
    if (index < 0) continue;
    if (latest !== undefined && index < order.indexOf(latest)) {
      warn(`${where} element order: ${latest} before ${key}; IEEE 2030.5 ${type} requires ${key} before ${latest} ${ACCEPTED}`);
      return;
    }
    latest = key;
  }
}

/** A copy of `body` with its known elements in schema order (attributes first, unknown elements last). */
export function inSchemaOrder(body: XmlObject, order: readonly string[]): XmlObject {
  const out: XmlObject = {};
  for (const [key, value] of Object.entries(body)) if (key.startsWith('@_')) out[key] = value;
  for (const key of order) if (body[key] !== undefined) out[key] = body[key];
  for (const key of elementKeys(body)) if (!order.includes(key)) out[key] = body[key];
  return out;
}

/** The order of a complex child (`gpsLocation`, the ratings of a DERCapability): checked, and fixed in the copy. */
export function childInOrder(body: XmlObject, key: string, order: readonly string[], where: string, type: string, warn: Warn): void {
  const value: XmlValue | undefined = body[key];
  if (typeof value !== 'object' || Array.isArray(value)) return;
  checkOrder(value, order, `${where} ${key}`, type, warn);
  body[key] = inSchemaOrder(value, order);
}

/** DERCapability: its own order, then each rating's (multiplier before value, README: value first). */
export function derCapabilityInOrder(body: XmlObject, warn: Warn): XmlObject {
  checkOrder(body, DER_CAPABILITY_ORDER, 'DERCapability', 'DERCapability (sep.xsd)', warn);
  const out = inSchemaOrder(body, DER_CAPABILITY_ORDER);
  for (const [key, type] of Object.entries(RATING_TYPES)) {
    childInOrder(out, key, type === 'PowerFactor' ? POWER_FACTOR_ORDER : VALUE_ORDER, 'DERCapability', type, warn);
  }
  return out;
}
