/**
 * Namespace handling of the 2030.5 XML codec: every element and attribute is resolved in the scope of its own
 * declarations (prefixed, default, redeclared default, `xmlns=""`), on the root and on any descendant; CSIP-AUS is
 * detected from a declared namespace as well as from a used one (Energy Queensland declares `xmlns:ns2` on every root
 * and uses it nowhere in an EndDevice). Also runs decodeDocument on the documents that used to break.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeDocument } from '../../src/adapters/sep2/sep2.schemas.js';
import { parseXml, XmlError, type XmlObject } from '../../src/adapters/sep2/xml.js';

const SEP = 'xmlns="urn:ieee:std:2030.5:ns"';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const LFDI = '3E4F45AB31EDFE5B67E343E5E4562E31984E23E5';
const device = (extra: string, attributes = 'href="/edev/1"'): string =>
  `<EndDevice ${attributes}><lFDI>${LFDI}</lFDI><sFDI>167261211391</sFDI><changedTime>1</changedTime>${extra}</EndDevice>`;

/** The three documents of the defect report. */
const defect = {
  prefixedOnElement: `<EndDeviceList ${SEP} all="1" results="1">${device('<au:ConnectionPointLink xmlns:au="https://csipaus.org/ns" href="/edev/1/cp"/>')}</EndDeviceList>`,
  vendorExtension: `<DeviceCapability ${SEP} href="/dcap" pollRate="60"><TimeLink href="/tm"/><EndDeviceListLink href="/edev" all="1"/><vx:x xmlns:vx="urn:vendor"><vx:y>1</vx:y></vx:x></DeviceCapability>`,
  redeclaredDefault: device('<ConnectionPointLink xmlns="https://csipaus.org/ns" href="/edev/1/cp"/>', `${SEP} href="/edev/1"`),
};

describe('a namespace declared on an element applies to its own name', () => {
  it('prefixed on the element itself: <au:ConnectionPointLink xmlns:au=…> becomes csipaus:ConnectionPointLink', () => {
    const doc = parseXml(defect.prefixedOnElement);
    expect(doc.body.EndDevice).toMatchObject({ 'csipaus:ConnectionPointLink': { '@_href': '/edev/1/cp' } });
    expect(doc).toMatchObject({ csipaus: '1.2', csipausUsed: '1.2' });
    const decoded = decodeDocument('EndDeviceList', defect.prefixedOnElement);
    expect(decoded.doc.endDevices[0]?.connectionPointLink).toEqual({ href: '/edev/1/cp' });
    expect(decoded.csipaus).toBe('1.2');
    const single = device('<au:ConnectionPointLink xmlns:au="https://csipaus.org/ns" href="/edev/1/cp"/>', `${SEP} href="/edev/1"`);
    expect(decodeDocument('EndDevice', single).doc.connectionPointLink).toEqual({ href: '/edev/1/cp' });
  });

  it('a vendor extension with its own prefix becomes {uri}local and the loose schema ignores it', () => {
    const doc = parseXml(defect.vendorExtension);
    expect(doc.body['{urn:vendor}x']).toEqual({ '{urn:vendor}y': '1' });
    expect(doc.csipaus).toBeUndefined();
    expect(decodeDocument('DeviceCapability', defect.vendorExtension).doc).toEqual({ endDeviceListLink: { href: '/edev', all: 1 }, timeLink: { href: '/tm' }, pollRate: 60 });
  });

  it('a redeclared default namespace: <ConnectionPointLink xmlns="https://csipaus.org/ns"> is CSIP-AUS, not 2030.5', () => {
    const doc = parseXml(defect.redeclaredDefault);
    expect(doc.body['csipaus:ConnectionPointLink']).toEqual({ '@_href': '/edev/1/cp' });
    expect(doc.body.ConnectionPointLink).toBeUndefined();
    expect(decodeDocument('EndDevice', defect.redeclaredDefault).doc.connectionPointLink).toEqual({ href: '/edev/1/cp' });
  });

  it('the root: prefixed, default, and a CSIP-AUS root in its own namespace', () => {
    expect(parseXml('<s:Time xmlns:s="urn:ieee:std:2030.5:ns"><s:currentTime>5</s:currentTime></s:Time>')).toMatchObject({ root: 'Time', body: { currentTime: '5' } });
    expect(parseXml('<Time xmlns="urn:ieee:std:2030.5:ns"><currentTime>5</currentTime></Time>')).toMatchObject({ root: 'Time', body: { currentTime: '5' } });
    expect(parseXml('<c:ConnectionPoint xmlns:c="https://csipaus.org/ns/v1.3"><c:connectionPointId>1</c:connectionPointId></c:ConnectionPoint>'))
      .toEqual({ root: 'csipaus:ConnectionPoint', csipaus: '1.3', csipausUsed: '1.3', body: { 'csipaus:connectionPointId': '1' } });
    expect(parseXml('<v:Thing xmlns:v="urn:vendor"/>').root).toBe('{urn:vendor}Thing');
    expect(parseXml('<Time><currentTime>5</currentTime></Time>')).toMatchObject({ root: 'Time', csipaus: undefined }); // no namespace: local names
  });

  it('a default namespace redeclared deeper applies to the whole subtree, and the outer one comes back after it', () => {
    const doc = parseXml(`<DER ${SEP}><x xmlns="urn:vendor"><y><z/></y></x><DERCapabilityLink href="/c"/></DER>`);
    expect(doc.body).toEqual({ '{urn:vendor}x': { '{urn:vendor}y': { '{urn:vendor}z': '' } }, DERCapabilityLink: { '@_href': '/c' } });
  });

  it('xmlns="" undeclares the default namespace: unprefixed names have no namespace again', () => {
    const doc = parseXml(`<EndDevice ${SEP}><ConnectionPointLink xmlns="https://csipaus.org/ns" href="/cp"><inner xmlns=""><deep/></inner><kept/></ConnectionPointLink></EndDevice>`);
    expect(doc.body['csipaus:ConnectionPointLink']).toEqual({ '@_href': '/cp', inner: { deep: '' }, 'csipaus:kept': '' });
    const vendor = parseXml(`<DER ${SEP}><v xmlns="urn:vendor"><a/><b xmlns=""><c/></b></v></DER>`);
    expect(vendor.body['{urn:vendor}v']).toEqual({ '{urn:vendor}a': '', b: { c: '' } });
    expect(parseXml('<p:Time xmlns:p="urn:ieee:std:2030.5:ns" xmlns=""><currentTime>1</currentTime></p:Time>').body).toEqual({ currentTime: '1' });
  });
});

describe('repeated siblings', () => {
  it('resolves each item of a raw array on its own and groups by the normalized name', () => {
    const doc = parseXml(`<DER ${SEP}><a:x xmlns:a="https://csipaus.org/ns">1</a:x><a:x xmlns:a="urn:vendor">2</a:x><a:x xmlns:a="https://csipaus.org/ns">3</a:x></DER>`);
    expect(doc.body).toEqual({ 'csipaus:x': ['1', '3'], '{urn:vendor}x': '2' });
  });

  it('merges different raw names that mean the same element into one array', () => {
    const doc = parseXml(`<DER ${SEP} xmlns:csipaus="https://csipaus.org/ns" xmlns:ns2="https://csipaus.org/ns"><csipaus:x>1</csipaus:x><ns2:x>2</ns2:x><s:y xmlns:s="urn:ieee:std:2030.5:ns">3</s:y><y>4</y></DER>`);
    expect(doc.body).toEqual({ 'csipaus:x': ['1', '2'], y: ['3', '4'] });
  });

  it('two EndDevices whose ConnectionPointLinks use different forms both keep their link', () => {
    const xml = `<EndDeviceList ${SEP} all="3" results="3">${[
      device('<au:ConnectionPointLink xmlns:au="https://csipaus.org/ns" href="/edev/1/cp"/>', 'href="/edev/1"'),
      device('<ConnectionPointLink xmlns="https://csipaus.org/ns" href="/edev/2/cp"/>', 'href="/edev/2"'),
      device('<au:ConnectionPointLink xmlns:au="urn:vendor" href="/not-a-cp"/>', 'href="/edev/3"'),
    ].join('')}</EndDeviceList>`;
    const links = decodeDocument('EndDeviceList', xml).doc.endDevices.map((d) => d.connectionPointLink?.href);
    expect(links).toEqual(['/edev/1/cp', '/edev/2/cp', undefined]);
    expect((parseXml(xml).body.EndDevice as XmlObject[])[2]).toMatchObject({ '{urn:vendor}ConnectionPointLink': { '@_href': '/not-a-cp' } });
  });
});

describe('attributes', () => {
  it('unprefixed keep @_name (no namespace, whatever the default); 2030.5 / CSIP-AUS prefixed lose the prefix; foreign ones become @_{uri}local', () => {
    const doc = parseXml(`<EndDevice ${SEP} xmlns:v="urn:vendor" xmlns:c="https://csipaus.org/ns" xmlns:s="urn:ieee:std:2030.5:ns" href="/edev/1" v:href="/evil" c:extra="e" s:other="o" xml:lang="en"><sFDI>1</sFDI></EndDevice>`);
    expect(doc.body).toEqual({ '@_href': '/edev/1', '@_{urn:vendor}href': '/evil', '@_extra': 'e', '@_other': 'o', [`@_{${XML_NS}}lang`]: 'en', sFDI: '1' });
  });

  it('a foreign attribute never shadows a standard one, whatever the order', () => {
    const before = parseXml(`<EndDeviceListLink ${SEP} v:href="/evil" href="/edev" xmlns:v="urn:vendor"/>`);
    expect(before.body['@_href']).toBe('/edev');
    expect(decodeDocument('DeviceCapability', `<DeviceCapability ${SEP}><EndDeviceListLink v:href="/evil" xmlns:v="urn:vendor" href="/edev"/></DeviceCapability>`).doc.endDeviceListLink).toEqual({ href: '/edev' });
    // A prefixed CSIP-AUS attribute that would collide with an unprefixed one keeps its full name.
    expect(parseXml(`<DER ${SEP} xmlns:c="https://csipaus.org/ns" c:href="/x" href="/der/1"/>`).body).toEqual({ '@_{https://csipaus.org/ns}href': '/x', '@_href': '/der/1' });
  });

  it('resolves attribute prefixes declared on the element itself and on an ancestor', () => {
    const doc = parseXml(`<DER ${SEP} xmlns:a="urn:a"><x:L xmlns:x="urn:vendor" x:k="1" a:k="2"/></DER>`);
    expect(doc.body['{urn:vendor}L']).toEqual({ '@_{urn:vendor}k': '1', '@_{urn:a}k': '2' });
  });

  it('the default namespace does not apply to attributes', () => {
    expect(parseXml(`<EndDevice ${SEP}><ConnectionPointLink xmlns="urn:vendor" href="/x"/></EndDevice>`).body['{urn:vendor}ConnectionPointLink']).toEqual({ '@_href': '/x' });
  });

  it.each([
    ['an undeclared attribute prefix', `<EndDevice ${SEP} q:href="/x"/>`, /prefix "q"/],
    ['an attribute prefix declared only on a sibling', `<DER ${SEP}><a xmlns:q="urn:q"/><b q:k="1"/></DER>`, /prefix "q"/],
    ['the same expanded attribute name twice', `<DER ${SEP} xmlns:a="urn:x" xmlns:b="urn:x" a:k="1" b:k="2"/>`, /appears twice/],
    ['an attribute name with two colons', `<DER ${SEP} xmlns:a="urn:x" a:b:c="1"/>`, /not a valid qualified name/],
  ])('rejects %s with an XmlError', (_name, xml, message) => {
    expect(() => parseXml(xml)).toThrow(XmlError);
    expect(() => parseXml(xml)).toThrow(message);
  });
});

describe('namespace declarations that are errors', () => {
  it.each([
    ['an element prefix declared only on a sibling', `<DER ${SEP}><a xmlns:q="urn:q"/><q:b/></DER>`],
    ['an element prefix declared only on a descendant', `<DER ${SEP}><q:b><c xmlns:q="urn:q"/></q:b></DER>`],
    ['undeclaring a prefix (xmlns:p="")', `<DER ${SEP}><p:a xmlns:p=""/></DER>`],
    ['an empty prefix (xmlns:="…")', `<DER ${SEP} xmlns:="urn:x"/>`],
    ['declaring the xmlns prefix', `<DER ${SEP} xmlns:xmlns="urn:x"/>`],
    ['binding xml to another URI', `<DER ${SEP} xmlns:xml="urn:x"/>`],
    ['__proto__ reached through a prefix', `<DER ${SEP}><p:__proto__ xmlns:p="urn:ieee:std:2030.5:ns"/></DER>`],
  ])('rejects %s', (_name, xml) => {
    expect(() => parseXml(xml)).toThrow(XmlError);
  });

  it('accepts xml bound to its own URI', () => {
    expect(parseXml(`<DER ${SEP} xmlns:xml="${XML_NS}" xml:lang="en"/>`).body).toEqual({ [`@_{${XML_NS}}lang`]: 'en' });
  });
});

describe('CSIP-AUS detection', () => {
  it('by declaration only (Energy Queensland: xmlns:ns2 on the root, no CSIP-AUS element)', () => {
    const xml = device('', `xmlns="urn:ieee:std:2030.5:ns" xmlns:ns2="https://csipaus.org/ns" href="/api/v2/edev/_EQLDEV3"`);
    expect(parseXml(xml)).toMatchObject({ csipaus: '1.2', csipausUsed: undefined });
    expect(decodeDocument('EndDevice', xml).csipaus).toBe('1.2');
    const list = `<EndDeviceList xmlns="urn:ieee:std:2030.5:ns" xmlns:ns2="https://csipaus.org/ns" all="1" results="1">${device('')}</EndDeviceList>`;
    expect(decodeDocument('EndDeviceList', list).csipaus).toBe('1.2');
    expect(decodeDocument('DeviceCapability', `<DeviceCapability xmlns="urn:ieee:std:2030.5:ns" xmlns:ns2="https://csipaus.org/ns"><EndDeviceListLink href="/edev" all="1"/></DeviceCapability>`).csipaus).toBe('1.2');
  });

  it('v1.3, declared and unused', () => {
    expect(parseXml(`<EndDevice ${SEP} xmlns:csipaus="https://csipaus.org/ns/v1.3"><sFDI>1</sFDI></EndDevice>`).csipaus).toBe('1.3');
  });

  it('the legacy http://csipaus.org/ns is read as 1.2', () => {
    expect(parseXml(`<EndDevice ${SEP} xmlns:c="http://csipaus.org/ns"><c:ConnectionPointLink href="/cp"/></EndDevice>`)).toMatchObject({ csipaus: '1.2', body: { 'csipaus:ConnectionPointLink': { '@_href': '/cp' } } });
  });

  it('a declaration on a descendant counts, even one on a vendor element', () => {
    expect(parseXml(`<EndDevice ${SEP}><sFDI>1</sFDI><v:x xmlns:v="urn:vendor" xmlns:c="https://csipaus.org/ns/v1.3"/></EndDevice>`).csipaus).toBe('1.3');
    expect(parseXml(`<DERList ${SEP} all="1" results="1"><DER><DERCapabilityLink xmlns:ns2="https://csipaus.org/ns" href="/c"/></DER></DERList>`).csipaus).toBe('1.2');
  });

  it('the v1.3 storage extension alone means 1.3, and its elements become csipaus:<local>', () => {
    const doc = parseXml(`<DERCapability ${SEP} xmlns:st="https://csipaus.org/ns/v1.3-beta/storage"><modesSupported>00</modesSupported><st:vppModesSupported>01</st:vppModesSupported></DERCapability>`);
    expect(doc).toMatchObject({ csipaus: '1.3', csipausUsed: '1.3' });
    expect(doc.body['csipaus:vppModesSupported']).toBe('01');
  });

  it('a core namespace wins over the storage extension', () => {
    expect(parseXml(`<DER ${SEP} xmlns:st="https://csipaus.org/ns/v1.3-beta/storage" xmlns:csipaus="https://csipaus.org/ns"><st:x/></DER>`).csipaus).toBe('1.2');
    expect(parseXml(`<DER ${SEP}><st:x xmlns:st="https://csipaus.org/ns/v1.3-beta/storage"/><c:y xmlns:c="https://csipaus.org/ns/v1.3"/></DER>`).csipaus).toBe('1.3');
  });

  it('both core namespaces declared: the one an element uses, else the first declared', () => {
    expect(parseXml(`<DER ${SEP} xmlns:a="https://csipaus.org/ns" xmlns:b="https://csipaus.org/ns/v1.3"><b:x/></DER>`).csipaus).toBe('1.3');
    expect(parseXml(`<DER ${SEP} xmlns:a="https://csipaus.org/ns/v1.3" xmlns:b="https://csipaus.org/ns"><b:x/></DER>`).csipaus).toBe('1.2');
    expect(parseXml(`<DER ${SEP} xmlns:a="https://csipaus.org/ns/v1.3" xmlns:b="https://csipaus.org/ns"/>`)).toMatchObject({ csipaus: '1.3', csipausUsed: undefined });
    expect(parseXml(`<DER ${SEP} xmlns:a="https://csipaus.org/ns"><x xmlns:b="https://csipaus.org/ns/v1.3"/></DER>`).csipaus).toBe('1.2');
  });

  it('no CSIP-AUS namespace: undefined', () => {
    expect(parseXml(`<EndDevice ${SEP} xmlns:v="urn:vendor"><sFDI>1</sFDI></EndDevice>`).csipaus).toBeUndefined();
  });
});

const FIXTURES = new URL('../../../shared/fixtures/sep2/', import.meta.url);
const fixtureFiles = existsSync(FIXTURES)
  ? readdirSync(FIXTURES, { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((d) => readdirSync(new URL(`${d.name}/`, FIXTURES)).filter((f) => f.endsWith('.xml')).map((f) => `${d.name}/${f}`))
  : [];

describe('the real envoy documents in ../shared/fixtures/sep2', () => {
  it.skipIf(fixtureFiles.length === 0)('every fixture parses, with a 2030.5 root and CSIP-AUS 1.2 exactly when it declares https://csipaus.org/ns', () => {
    expect(fixtureFiles.length).toBeGreaterThan(10);
    for (const file of fixtureFiles) {
      const text = readFileSync(new URL(file, FIXTURES), 'utf8');
      const doc = parseXml(text);
      expect({ file, root: doc.root.includes(':') || doc.root.includes('{'), csipaus: doc.csipaus }).toEqual({ file, root: false, csipaus: text.includes('"https://csipaus.org/ns"') ? '1.2' : undefined });
    }
  });

  it.skipIf(fixtureFiles.length === 0)('the EndDeviceList pages keep their csipaus:ConnectionPointLink', () => {
    const list = decodeDocument('EndDeviceList', readFileSync(new URL('envoy-live/edev-list-1.xml', FIXTURES), 'utf8')).doc;
    expect(list.endDevices.map((d) => d.connectionPointLink?.href)).toEqual([undefined, '/envoy-svc-static-36/edev/1/cp']);
  });
});
