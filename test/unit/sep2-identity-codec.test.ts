/**
 * 2030.5 identifiers (every test vector of reference ieee2030_5-registration §3.2) and the XML codec: outbound
 * documents validate against sep.xsd / CSIP-AUS schemas; inbound ones parse by namespace URI.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { certificateIdentity } from '../../src/adapters/sep2/identity.js';
import {
  encodeConnectionPoint, encodeDer, encodeDerCapability, encodeDerSettings, encodeDerStatus, encodeDeviceInformation,
  encodeEndDevice, hexBinary, powerValue,
} from '../../src/adapters/sep2/resources.js';
import { parseXml, XmlError } from '../../src/adapters/sep2/xml.js';
import { lfdiFromFingerprint, normalizeLfdi, pinWithCheckDigit, sfdiFromLfdi } from '../../src/domain/sep2-identity.js';
import { createSelfSignedRsa } from '../../src/pki/certificate.js';
import { xsd, xsdMissingReason } from '../helpers/xsd.js';

describe('SFDI from LFDI (IEEE 2030.5-2018 §6.3.5)', () => {
  it.each([
    ['3E4F45AB31EDFE5B67E343E5E4562E31984E23E5', '167261211391'],
    ['854d10a201ca99e5e90d3c3e1f9bc1c3bd075f3b', '357827241281'],
    ['403ba02aa36fa072c47eb3299daaafe94399adad', '172423912108'],
    ['c9ed55b4b4f8647916bfb7f426792e015ffc2441', '542043902191'],
    ['8ad1d4ce1d3b353ebee21230a89e4172b18f520e', '372641169614'],
    ['ec08e4c9d68a0669c3673708186fde317f7c67a2', '633600933412'],
    ['ec80646c5131ffa8ade49ac24be5295a7cfeb69d', '634853966776'],
    ['93a527c16d8fca36e0f7da189fde375d5e494717', '396331899108'],
    ['528c4389856edd00ba97adbd9633b4c24257c57a', '221587846647'],
    ['d6d6429b0615fc5a98153bd85edeb07db51b441c', '576698556643'],
    ['8f4f6fddd0e161491a83e4a523599a303f16fa29', '384695659177'],
    ['B9A8A75E324D2312AD09F8DAF9C1295A3CE4142E', '498374056671'],
    ['0F8872FF54ACDC4A9B789F0872255051D0BDBB64', '41696092058'], // 11 digits
    ['0F3078CFDDAEE28DC20B95635DC116CC2A6D877F', '40773583337'],
    ['B1857F74B5DA25E82E78BE34877221CB89D55F45', '476530583793'],
    ['4075DE6031E562ACF4D9EAA765A5B2ED00057269', '173034634270'],
    ['42DD677C78A948919914EDB0FBE9DA89127415E5', '179488992715'],
    ['8000000010000000000000000000000000000000', '343597383690'], // check digit 0
  ])('%s → %s', (lfdi, sfdi) => {
    expect(sfdiFromLfdi(lfdi)).toBe(sfdi);
    expect(sfdiFromLfdi(lfdi.toLowerCase())).toBe(sfdi);
  });

  it('takes the LFDI from the first 40 hex digits of the SHA-256 fingerprint', () => {
    expect(lfdiFromFingerprint('3E:4F:45:AB:31:ED:FE:5B:67:E3:43:E5:E4:56:2E:31:98:4E:23:E5:34:9E:2A:D7:45:67:2E:D1:45:EE:21:3A')).toBe('3E4F45AB31EDFE5B67E343E5E4562E31984E23E5');
  });

  it('derives identity from the DER of the first certificate of a chain', async () => {
    const { X509Certificate, createHash } = await import('node:crypto');
    const a = createSelfSignedRsa({ commonName: 'a', bits: 2048 }).certPem;
    const b = createSelfSignedRsa({ commonName: 'b', bits: 2048 }).certPem;
    const der = new X509Certificate(a).raw;
    const expected = createHash('sha256').update(der).digest('hex').slice(0, 40).toUpperCase();
    expect(certificateIdentity(a + b).lfdi).toBe(expected);
    expect(certificateIdentity(a + b).sfdi).toBe(sfdiFromLfdi(expected));
  });

  it('refuses LFDIs in the seed\'s forms', () => {
    expect(() => normalizeLfdi('0x21352135135')).toThrow(/without 0x/);
    expect(() => normalizeLfdi('1172794507551')).toThrow(/40 hex digits/);
  });

  it('adds the envoy PIN check digit', () => {
    expect([12345, 11111, 22222, 55221, 123, 33221].map(pinWithCheckDigit)).toEqual([123455, 111115, 222220, 552215, 1236, 332211]);
  });
});

describe('hexBinary and power values', () => {
  it('writes even-length uppercase hex', () => {
    expect(hexBinary(0x40000, 4)).toBe('040000');
    expect(hexBinary(0x100000, 8)).toBe('100000');
    expect(hexBinary(0x0f, 1)).toBe('0F');
    expect(hexBinary(0, 1)).toBe('00');
    expect(() => hexBinary(256, 1)).toThrow(RangeError);
  });

  it('keeps value within Int16 with a power-of-ten multiplier', () => {
    expect(powerValue(5000)).toEqual({ multiplier: 0, value: 5000 });
    expect(powerValue(50_000)).toEqual({ multiplier: 1, value: 5000 });
    expect(powerValue(350_000)).toEqual({ multiplier: 2, value: 3500 });
  });
});

const LFDI = '3E4F45AB31EDFE5B67E343E5E4562E31984E23E5';
const FIXTURES = new URL('../../../shared/fixtures/sep2/', import.meta.url);
const documents = {
  EndDevice: encodeEndDevice({ lfdi: LFDI, deviceCategory: 0x040000, enabled: true, postRate: 60 }, 1_700_000_000),
  DeviceInformation: encodeDeviceInformation({ lfdi: LFDI, functionsImplemented: 0x100000, gps: { lat: '-35.0', lon: '144.0' }, mfDate: 0, mfHwVer: 'Unknown', mfID: 1234567, mfInfo: 'Acme Corp', mfModel: 'Acme 2000 Pro+', mfSerNum: 'ACME1234', primaryPower: 0, secondaryPower: 0, swActTime: 0, swVer: 'NA' }),
  DER: encodeDer(),
  DERCapabilityPlain: encodeDerCapability({ modesSupported: 0x00500088, rtgMaxW: 5000, type: 83, doeModesSupported: 0x0f }, undefined),
  DERCapability12: encodeDerCapability({ modesSupported: 0x00500088, rtgMaxW: 50_000, rtgMaxVA: 50_000, rtgMaxWh: 75_000, rtgMaxChargeRateW: 50_000, rtgMaxDischargeRateW: 0, type: 82, doeModesSupported: 0x0f }, '1.2'),
  DERCapability13: encodeDerCapability({ modesSupported: 0x00500088, rtgMaxW: 5000, type: 83, doeModesSupported: 0x0f }, '1.3'),
  DERSettings12: encodeDerSettings({ modesEnabled: 0x00500088, setGradW: 100, setMaxW: 5000, doeModesEnabled: 0x0f }, '1.2', 1_700_000_000),
  DERStatus: encodeDerStatus({ genConnectStatus: 1 }, 1_700_000_000),
  ConnectionPoint12: encodeConnectionPoint('NMI123', '1.2'),
  ConnectionPoint13: encodeConnectionPoint('NMI123', '1.3'),
};

describe('outbound documents', () => {
  it('writes the corrected EndDevice of the reference byte for byte (apart from the declaration)', () => {
    expect(documents.EndDevice).toBe('<?xml version="1.0" encoding="UTF-8"?><EndDevice xmlns="urn:ieee:std:2030.5:ns"><deviceCategory>040000</deviceCategory><lFDI>3E4F45AB31EDFE5B67E343E5E4562E31984E23E5</lFDI><sFDI>167261211391</sFDI><changedTime>1700000000</changedTime><enabled>true</enabled><postRate>60</postRate></EndDevice>');
    expect(documents.DER).toBe('<?xml version="1.0" encoding="UTF-8"?><DER xmlns="urn:ieee:std:2030.5:ns"/>');
  });

  it.skipIf(!xsd)(`validate against sep.xsd and the CSIP-AUS schemas${xsdMissingReason ? ` (${xsdMissingReason})` : ''}`, () => {
    for (const [name, xml] of Object.entries(documents)) {
      expect({ name, problems: xsd!.validate(xml) }).toEqual({ name, problems: [] });
    }
    expect(xsd!.validate(documents.EndDevice, 'csipaus-1.2')).toEqual([]);
    expect(xsd!.validate(documents.EndDevice, 'csipaus-1.3')).toEqual([]);
    expect(xsd!.validate(documents.DERCapabilityPlain, 'csipaus-1.2')[0]).toMatch(/doeModesSupported/);
  });

  it.skipIf(!xsd)('the seed\'s own EndDevice fails the schema (a validator that can fail)', () => {
    const seed = '<EndDevice><deviceCategory>262144</deviceCategory><lFDI>0x21352135135</lFDI><sFDI>356563223726</sFDI><changedTime>0</changedTime><postRate>0</postRate><enabled>true</enabled></EndDevice>';
    expect(xsd!.validate(seed)[0]).toMatch(/No matching global declaration/);
  });
});

describe('parseXml', () => {
  it('resolves namespaces by URI whatever the prefix, and keeps values as text', () => {
    const doc = parseXml(`<EndDeviceList xmlns="urn:ieee:std:2030.5:ns" xmlns:ns2="https://csipaus.org/ns" all="2" results="2" href="/api/v2/edev">
      <EndDevice href="/api/v2/edev/_EQLDEV3"><lFDI>4075DE6031E562ACF4D9EAA765A5B2ED00057269</lFDI><sFDI>016726121139</sFDI><changedTime>9223372036854775807</changedTime><ns2:ConnectionPointLink href="/cp"/></EndDevice>
      <EndDevice href="/api/v2/edev/E-AGGREQL"><lFDI>B1857F74B5DA25E82E78BE34877221CB89D55F45</lFDI><sFDI>476530583793</sFDI><changedTime>1</changedTime></EndDevice>
    </EndDeviceList>`);
    expect(doc.root).toBe('EndDeviceList');
    expect(doc.csipaus).toBe('1.2');
    const devices = doc.body.EndDevice as Record<string, unknown>[];
    expect(devices[0]).toMatchObject({ '@_href': '/api/v2/edev/_EQLDEV3', sFDI: '016726121139', changedTime: '9223372036854775807', 'csipaus:ConnectionPointLink': { '@_href': '/cp' } });
    expect(doc.body['@_all']).toBe('2');
  });

  it('detects CSIP-AUS v1.3 and a default-namespace CSIP-AUS root', () => {
    expect(parseXml('<ConnectionPoint xmlns="https://csipaus.org/ns/v1.3"><connectionPointId>1111111111</connectionPointId></ConnectionPoint>')).toMatchObject({ root: 'csipaus:ConnectionPoint', csipaus: '1.3', body: { 'csipaus:connectionPointId': '1111111111' } });
  });

  it.each([
    ['not XML', 'hello'],
    ['unclosed', '<EndDevice xmlns="urn:ieee:std:2030.5:ns">'],
    ['a DOCTYPE (entity expansion)', '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'],
    ['an undeclared prefix', '<p:EndDevice/>'],
    ['a truncated empty element the validator passes (found by the fuzz soak)', '<A/'],
  ])('rejects %s with a clear error', (_name, text) => {
    expect(() => parseXml(text)).toThrow(XmlError);
  });
});

describe('decodeDocument', () => {
  it('round-trips every document the client writes', async () => {
    const { decodeDocument } = await import('../../src/adapters/sep2/sep2.schemas.js');
    expect(decodeDocument('DeviceInformation', documents.DeviceInformation).doc).toEqual({ lfdi: LFDI, functionsImplemented: 0x100000, gps: { lat: '-35.0', lon: '144.0' }, mfDate: 0, mfHwVer: 'Unknown', mfID: 1234567, mfInfo: 'Acme Corp', mfModel: 'Acme 2000 Pro+', mfSerNum: 'ACME1234', primaryPower: 0, secondaryPower: 0, swActTime: 0, swVer: 'NA' });
    expect(decodeDocument('DERCapability', documents.DERCapability12)).toEqual({
      csipaus: '1.2',
      doc: { modesSupported: 0x00500088, rtgMaxW: 50_000, rtgMaxVA: 50_000, rtgMaxWh: 75_000, rtgMaxChargeRateW: 50_000, rtgMaxDischargeRateW: 0, type: 82, doeModesSupported: 0x0f },
    });
    expect(decodeDocument('DERSettings', documents.DERSettings12).doc).toEqual({ modesEnabled: 0x00500088, setGradW: 100, setMaxW: 5000, doeModesEnabled: 0x0f });
    expect(decodeDocument('DERStatus', documents.DERStatus).doc).toEqual({ genConnectStatus: 1 });
    expect(decodeDocument('ConnectionPoint', documents.ConnectionPoint13)).toEqual({ csipaus: '1.3', doc: { connectionPointId: 'NMI123' } });
  });

  it.skipIf(!existsSync(FIXTURES))('reads the real envoy documents in ../shared/fixtures/sep2 (skipped when that folder is absent)', async () => {
    const { decodeDocument } = await import('../../src/adapters/sep2/sep2.schemas.js');
    const dir = FIXTURES;
    const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
    expect(decodeDocument('DeviceCapability', read('envoy-live/dcap.xml')).doc.endDeviceListLink?.href).toMatch(/\/edev$/);
    const list = decodeDocument('EndDeviceList', read('envoy-live/edev-list-1.xml')).doc;
    expect(list.endDevices.length).toBeGreaterThan(0);
    expect(list.endDevices.every((d) => /^\d+$/.test(d.sfdi))).toBe(true);
    expect(decodeDocument('EndDeviceList', read('envoy-live/edev-list-completely-empty.xml')).doc.endDevices).toEqual([]);
    expect(decodeDocument('EndDevice', read('envoy/enddevice.xml')).doc.registrationLink?.href).toBeDefined();
    expect(decodeDocument('Registration', read('envoy/registration.xml')).doc.pin).toMatch(/^\d+$/);
    expect(() => decodeDocument('EndDevice', read('envoy/registration.xml'))).toThrow(/expected a EndDevice document/);
  });
});
