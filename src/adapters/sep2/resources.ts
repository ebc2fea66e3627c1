/**
 * Encoders for the documents the client sends (reference §3.8–3.14): schema element order, the 2030.5 default
 * namespace, hexBinary as even-length uppercase hex without `0x`, and CSIP-AUS elements in the server's CSIP-AUS
 * namespace (or none on a plain 2030.5 server).
 */
import { normalizeLfdi, sfdiFromLfdi } from '../../domain/sep2-identity.js';
import type {
  DerCapabilityData, DerSettingsData, DerStatusData, DeviceInformationData, EndDeviceData, OutboundDocument,
} from '../../domain/sep2-resources.js';
import { buildXml, CSIPAUS_NS, el, opt, SEP_NS, type CsipausVersion, type XmlElementSpec } from './xml.js';

/** hexBinary: uppercase, even number of digits (left-padded with 0), at most `bytes` octets. */
export function hexBinary(value: number | bigint, bytes: number): string {
  const big = BigInt(value);
  if (big < 0n || big >= 1n << BigInt(bytes * 8)) throw new RangeError(`${value} does not fit in ${bytes} octets`);
  const hex = big.toString(16).toUpperCase();
  return hex.length % 2 ? `0${hex}` : hex;
}

/** A 2030.5 power value: `multiplier` (power of ten) and an Int16 `value` (reference §3.1). */
export function powerValue(watts: number): { multiplier: number; value: number } {
  let multiplier = 0;
  let value = Math.round(watts);
  while (Math.abs(value) > 32_767) {
    multiplier += 1;
    value = Math.round(watts / 10 ** multiplier);
  }
  return { multiplier, value };
}

const power = (name: string, watts: number): XmlElementSpec => {
  const p = powerValue(watts);
  return el(name, [el('multiplier', String(p.multiplier)), el('value', String(p.value))]);
};

const root = (name: string, children: XmlElementSpec[], csipaus?: CsipausVersion): XmlElementSpec =>
  el(name, children, { xmlns: SEP_NS, ...(csipaus ? { 'xmlns:csipaus': CSIPAUS_NS[csipaus] } : {}) });

export function encodeEndDevice(d: EndDeviceData, nowSeconds: number): string {
  const lfdi = normalizeLfdi(d.lfdi);
  return buildXml(root('EndDevice', [
    el('deviceCategory', hexBinary(d.deviceCategory, 4)),
    el('lFDI', lfdi),
    el('sFDI', sfdiFromLfdi(lfdi)),
    el('changedTime', String(nowSeconds)),
    el('enabled', String(d.enabled)),
    ...opt('postRate', d.postRate),
  ]));
}

export function encodeDeviceInformation(d: DeviceInformationData): string {
  return buildXml(root('DeviceInformation', [
    el('functionsImplemented', hexBinary(d.functionsImplemented, 8)),
    ...(d.gps ? [el('gpsLocation', [el('lat', d.gps.lat), el('lon', d.gps.lon)])] : []),
    el('lFDI', normalizeLfdi(d.lfdi)),
    el('mfDate', String(d.mfDate)),
    el('mfHwVer', d.mfHwVer),
    el('mfID', String(d.mfID)),
    ...opt('mfInfo', d.mfInfo),
    el('mfModel', d.mfModel),
    el('mfSerNum', d.mfSerNum),
    el('primaryPower', String(d.primaryPower)),
    el('secondaryPower', String(d.secondaryPower)),
    el('swActTime', String(d.swActTime)),
    el('swVer', d.swVer),
  ]));
}

export const encodeDer = (): string => buildXml(root('DER', []));

/** DERCapability; `csipaus:doeModesSupported` (required by CSIP-AUS) only on CSIP-AUS servers. */
export function encodeDerCapability(d: DerCapabilityData, csipaus: CsipausVersion | undefined): string {
  return buildXml(root('DERCapability', [
    el('modesSupported', hexBinary(d.modesSupported, 4)),
    ...(d.rtgMaxChargeRateW !== undefined ? [power('rtgMaxChargeRateW', d.rtgMaxChargeRateW)] : []),
    ...(d.rtgMaxDischargeRateW !== undefined ? [power('rtgMaxDischargeRateW', d.rtgMaxDischargeRateW)] : []),
    ...(d.rtgMaxVA !== undefined ? [power('rtgMaxVA', d.rtgMaxVA)] : []),
    power('rtgMaxW', d.rtgMaxW),
    ...(d.rtgMaxWh !== undefined ? [power('rtgMaxWh', d.rtgMaxWh)] : []),
    el('type', String(d.type)),
    ...(csipaus ? [el('csipaus:doeModesSupported', hexBinary(d.doeModesSupported, 1))] : []),
  ], csipaus));
}

export function encodeDerSettings(d: DerSettingsData, csipaus: CsipausVersion | undefined, nowSeconds: number): string {
  return buildXml(root('DERSettings', [
    el('modesEnabled', hexBinary(d.modesEnabled, 4)),
    el('setGradW', String(d.setGradW)),
    power('setMaxW', d.setMaxW),
    el('updatedTime', String(nowSeconds)),
    ...(csipaus ? [el('csipaus:doeModesEnabled', hexBinary(d.doeModesEnabled, 1))] : []),
  ], csipaus));
}

export function encodeDerStatus(d: DerStatusData, nowSeconds: number): string {
  return buildXml(root('DERStatus', [
    el('genConnectStatus', [el('dateTime', String(nowSeconds)), el('value', hexBinary(d.genConnectStatus, 1))]),
    el('readingTime', String(nowSeconds)),
  ]));
}

/** The CSIP-AUS ConnectionPoint (only exists in CSIP-AUS; v1.2 namespace unless the server shows v1.3). */
export function encodeConnectionPoint(nmi: string, csipaus: CsipausVersion | undefined): string {
  const version = csipaus ?? '1.2';
  return buildXml(el('csipaus:ConnectionPoint', [el('csipaus:connectionPointId', nmi)], { xmlns: SEP_NS, 'xmlns:csipaus': CSIPAUS_NS[version] }));
}

/** A DERControlResponse to a control's `replyTo` (IEEE 2030.5 Response: createdDateTime, endDeviceLFDI, status, subject). */
export function encodeDerControlResponse(r: { lfdi: string; status: number; subject: string; createdDateTime: number }): string {
  if (!Number.isInteger(r.status) || r.status < 0 || r.status > 255) throw new RangeError(`Response status ${r.status} is not a UInt8`);
  return buildXml(root('DERControlResponse', [
    el('createdDateTime', String(r.createdDateTime)),
    el('endDeviceLFDI', normalizeLfdi(r.lfdi)),
    el('status', String(r.status)),
    el('subject', r.subject.toUpperCase()),
  ]));
}

/** Encodes any outbound document; `nowSeconds` is the (server-corrected) time for changedTime and friends. */
export function encodeDocument(doc: OutboundDocument, csipaus: CsipausVersion | undefined, nowSeconds: number): string {
  switch (doc.kind) {
    case 'EndDevice': return encodeEndDevice(doc.data, nowSeconds);
    case 'DeviceInformation': return encodeDeviceInformation(doc.data);
    case 'DER': return encodeDer();
    case 'DERCapability': return encodeDerCapability(doc.data, csipaus);
    case 'DERSettings': return encodeDerSettings(doc.data, csipaus, nowSeconds);
    case 'DERStatus': return encodeDerStatus(doc.data, nowSeconds);
    case 'ConnectionPoint': return encodeConnectionPoint(doc.nmi, csipaus);
  }
}
