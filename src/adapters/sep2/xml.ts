/**
 * The 2030.5 XML codec on fast-xml-parser (reference §3.1, §4.4, §4.5).
 *
 * Parsing is namespace-aware by URI, never by prefix (`ns2:` and `csipaus:` alike), and every element and attribute
 * is resolved in a scope that includes the element's own declarations (`<au:ConnectionPointLink xmlns:au=…>`,
 * `<ConnectionPointLink xmlns="https://csipaus.org/ns">`, `xmlns=""`): 2030.5 elements keep their local name,
 * CSIP-AUS elements (any version, and the v1.3 storage extension) become `csipaus:<local>`, others `{uri}local`.
 * The CSIP-AUS version is reported when a CSIP-AUS namespace is declared anywhere in the document (Energy
 * Queensland declares `xmlns:ns2` on every root, used or not). Values stay text (`parseTagValue: false`), so LFDI,
 * SFDI and Int64 times are never turned into numbers.
 * Building writes elements in the order given (schema order is the encoders' job) with the default namespace.
 */
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';

export const SEP_NS = 'urn:ieee:std:2030.5:ns';
export const CSIPAUS_NS = {
  '1.2': 'https://csipaus.org/ns',
  '1.3': 'https://csipaus.org/ns/v1.3',
} as const;
export type CsipausVersion = keyof typeof CSIPAUS_NS;
/** CSIP 1.1, superseded (envoy #128), still read. */
const CSIPAUS_LEGACY = 'http://csipaus.org/ns';

/** The largest document the client or the test server will parse. */
export const MAX_XML_BYTES = 1024 * 1024;

export type XmlValue = string | XmlObject | XmlValue[];
export interface XmlObject {
  [key: string]: XmlValue | undefined;
}

export interface ParsedXml {
  /** Root element name after normalization, e.g. `EndDevice` or `csipaus:ConnectionPoint`. */
  root: string;
  body: XmlObject;
  /** The CSIP-AUS version whose namespace the document declares (on any element), if any; see `chosenVersion`. */
  csipaus: CsipausVersion | undefined;
  /**
   * The CSIP-AUS version of the elements actually in a CSIP-AUS namespace (the first core one met; storage-extension
   * elements alone mean 1.3), undefined when none is: a declaration nobody uses does not count here.
   */
  csipausUsed: CsipausVersion | undefined;
}

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlError';
  }
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  removeNSPrefix: false,
  processEntities: true,
  htmlEntities: false,
});

/** The CSIP-AUS v1.3 storage extension (its own namespace, used alongside the v1.3 core one). */
export const CSIPAUS_STORAGE_NS = 'https://csipaus.org/ns/v1.3-beta/storage';
/** Bound by definition (Namespaces in XML 1.0 §3); may be declared, but only to this URI. */
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

/** The CSIP-AUS namespaces: the core ones name a version; the storage extension implies 1.3 but is not a core. */
function csipausNamespace(uri: string): { version: CsipausVersion; core: boolean } | undefined {
  if (uri === CSIPAUS_NS['1.2'] || uri === CSIPAUS_LEGACY) return { version: '1.2', core: true };
  if (uri === CSIPAUS_NS['1.3']) return { version: '1.3', core: true };
  if (uri === CSIPAUS_STORAGE_NS) return { version: '1.3', core: false };
  return undefined;
}

/** What the document told us about CSIP-AUS, in the order met (document order, save that same-named siblings are grouped). */
interface CsipausSeen {
  declared: Set<CsipausVersion>; // core namespaces declared anywhere
  used: Set<CsipausVersion>; // core namespaces an element is in
  storage: boolean; // the storage extension declared
  storageUsed: boolean; // an element in the storage extension
}

/**
 * A core namespace wins over the storage extension (which alone means 1.3); with both cores declared, the one an
 * element uses, else the first declared.
 */
function chosenVersion(seen: CsipausSeen): CsipausVersion | undefined {
  const declared = [...seen.declared];
  if (declared.length > 1) return [...seen.used][0] ?? declared[0];
  return declared[0] ?? (seen.storage ? '1.3' : undefined);
}

interface Scope {
  /** Prefix → URI; '' is the default namespace, and '' as a URI means none (`xmlns=""`). */
  prefixes: ReadonlyMap<string, string>;
  seen: CsipausSeen;
}

/** A QName's prefix and local part; at most one colon, neither side empty (Namespaces in XML 1.0 §4). */
function splitQName(qualified: string): { prefix: string; local: string } {
  const colon = qualified.indexOf(':');
  if (colon < 0) return { prefix: '', local: qualified };
  const prefix = qualified.slice(0, colon);
  const local = qualified.slice(colon + 1);
  if (prefix === '' || local === '' || local.includes(':')) throw new XmlError(`"${qualified}" is not a valid qualified name`);
  return { prefix, local };
}

/** The scope of an element: its parent's, plus the element's own `xmlns` / `xmlns:p` attributes. */
function scopeOf(record: Record<string, unknown>, parent: Scope): Scope {
  let prefixes: Map<string, string> | undefined;
  for (const [key, value] of Object.entries(record)) {
    if (key !== '@_xmlns' && !key.startsWith('@_xmlns:')) continue;
    const prefix = key === '@_xmlns' ? '' : key.slice('@_xmlns:'.length);
    const uri = String(value);
    if (key !== '@_xmlns') {
      if (prefix === '' || prefix.includes(':')) throw new XmlError(`"${key.slice(2)}" is not a valid namespace declaration`);
      if (uri === '') throw new XmlError(`namespace prefix "${prefix}" cannot be undeclared (xmlns:${prefix}="")`);
      if (prefix === 'xmlns') throw new XmlError('the prefix "xmlns" cannot be declared');
      if ((prefix === 'xml') !== (uri === XML_NS)) throw new XmlError(`only the prefix "xml" is bound to ${XML_NS}, and only to it`);
    }
    if (uri === XMLNS_NS || (prefix === '' && uri === XML_NS)) throw new XmlError(`the namespace ${uri} cannot be declared`);
    prefixes ??= new Map(parent.prefixes);
    prefixes.set(prefix, uri);
    const csipaus = csipausNamespace(uri);
    if (csipaus?.core) parent.seen.declared.add(csipaus.version);
    else if (csipaus) parent.seen.storage = true;
  }
  return prefixes ? { prefixes, seen: parent.seen } : parent;
}

/**
 * An element's name in its own scope: 2030.5 and no namespace → local name; CSIP-AUS (any version, and the v1.3
 * storage extension) → `csipaus:<local>`; any other namespace → `{uri}local`.
 */
function elementName(qualified: string, scope: Scope): string {
  const { prefix, local } = splitQName(qualified);
  const uri = scope.prefixes.get(prefix);
  if (uri === undefined && prefix !== '') throw new XmlError(`namespace prefix "${prefix}" is not declared`);
  if (uri === undefined || uri === '') return guarded(local); // no namespace at all: kept by local name; schema validation reports it
  if (uri === SEP_NS) return guarded(local);
  const csipaus = csipausNamespace(uri);
  if (csipaus) {
    if (csipaus.core) scope.seen.used.add(csipaus.version);
    else scope.seen.storageUsed = true;
    return `csipaus:${local}`;
  }
  return `{${uri}}${local}`;
}

/** fast-xml-parser rejects `__proto__` as a raw name; a prefixed one could still reach it after normalization. */
function guarded(local: string): string {
  if (local === '__proto__') throw new XmlError('"__proto__" is not accepted as an element name');
  return local;
}

/**
 * Attributes in the element's own scope, as raw key → normalized key. Unprefixed ones have no namespace and keep
 * `@_name`; a prefixed one in the 2030.5 or a CSIP-AUS namespace becomes `@_local` unless another attribute already
 * has that name; any other (including `xml:`) becomes `@_{uri}local`, so it never shadows a standard one like `href`.
 */
function attributeNames(record: Record<string, unknown>, scope: Scope): Map<string, string> {
  const keys = Object.keys(record).filter((key) => key.startsWith('@_') && key !== '@_xmlns' && !key.startsWith('@_xmlns:'));
  const names = new Map(keys.filter((key) => !key.includes(':')).map((key) => [key, key]));
  const taken = new Set(names.values());
  const expanded = new Set<string>();
  for (const key of keys) {
    if (names.has(key)) continue;
    const { prefix, local } = splitQName(key.slice(2));
    const uri = prefix === 'xml' ? XML_NS : scope.prefixes.get(prefix);
    if (uri === undefined) throw new XmlError(`namespace prefix "${prefix}" of attribute "${key.slice(2)}" is not declared`);
    const full = `@_{${uri}}${local}`;
    if (expanded.has(full)) throw new XmlError(`attribute {${uri}}${local} appears twice`);
    expanded.add(full);
    const ours = uri === SEP_NS || csipausNamespace(uri) !== undefined;
    const name = ours && !taken.has(`@_${local}`) ? `@_${local}` : full;
    taken.add(name);
    names.set(key, name);
  }
  return names;
}

/** Adds a child; a second one of the same normalized name makes an array (in the order met). */
function addChild(out: XmlObject, name: string, value: XmlValue): void {
  if (!Object.hasOwn(out, name)) out[name] = value;
  else {
    const existing = out[name]!;
    if (Array.isArray(existing)) existing.push(value);
    else out[name] = [existing, value];
  }
}

/** One element (never an array: repeated siblings are split by the caller), named and normalized in its own scope. */
function normalizeElement(qualified: string, value: unknown, parent: Scope): { name: string; value: XmlValue } {
  if (typeof value !== 'object' || value === null) return { name: elementName(qualified, parent), value: String(value ?? '') };
  const record = value as Record<string, unknown>;
  const scope = scopeOf(record, parent);
  const name = elementName(qualified, scope);
  const attributes = attributeNames(record, scope);
  const out: XmlObject = {};
  for (const [key, v] of Object.entries(record)) {
    if (key.startsWith('@_')) {
      const attribute = attributes.get(key); // undefined for namespace declarations
      if (attribute !== undefined) out[attribute] = String(v);
    } else if (key === '#text') out[key] = String(v);
    // fast-xml-parser groups siblings by raw name; each may declare namespaces of its own.
    else for (const item of Array.isArray(v) ? v : [v]) {
      const child = normalizeElement(key, item, scope);
      addChild(out, child.name, child.value);
    }
  }
  // An element holding only text and namespace declarations is its text.
  const keys = Object.keys(out);
  if (keys.length === 1 && keys[0] === '#text') return { name, value: out['#text'] as string };
  return { name, value: out };
}

export function parseXml(text: string): ParsedXml {
  if (Buffer.byteLength(text) > MAX_XML_BYTES) throw new XmlError(`document larger than ${MAX_XML_BYTES} bytes`);
  if (/<!DOCTYPE/i.test(text)) throw new XmlError('DOCTYPE declarations are not accepted');
  const valid = XMLValidatorCheck(text);
  if (valid !== true) throw new XmlError(valid);
  let raw: Record<string, unknown>;
  try {
    raw = parser.parse(text) as Record<string, unknown>;
  } catch (error) {
    // The validator lets a few truncated documents through (e.g. `<A/`) that the parser then throws on.
    throw new XmlError(`not well-formed XML: ${(error as Error).message}`);
  }
  const roots = Object.keys(raw).filter((k) => !k.startsWith('?'));
  if (roots.length !== 1) throw new XmlError(`expected one root element, found ${roots.length}`);
  const rootKey = roots[0]!;
  if (Array.isArray(raw[rootKey])) throw new XmlError('expected one root element, found several');
  const seen: CsipausSeen = { declared: new Set(), used: new Set(), storage: false, storageUsed: false };
  const { name: root, value: body } = normalizeElement(rootKey, raw[rootKey] ?? '', { prefixes: new Map([['xml', XML_NS]]), seen });
  return {
    root,
    body: typeof body === 'object' && !Array.isArray(body) ? body : { '#text': String(body) },
    csipaus: chosenVersion(seen),
    csipausUsed: [...seen.used][0] ?? (seen.storageUsed ? '1.3' : undefined),
  };
}

function XMLValidatorCheck(text: string): true | string {
  const result = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (result === true) return true;
  return `not well-formed XML: ${result.err.msg} (line ${result.err.line}, column ${result.err.col})`;
}

// ---- building ----------------------------------------------------------------------------------------------

/** An element to write: children in schema order; `text` for simple content. */
export interface XmlElementSpec {
  name: string;
  attributes?: Record<string, string>;
  children?: XmlElementSpec[];
  text?: string;
}

export const el = (name: string, content?: string | XmlElementSpec[] | undefined, attributes?: Record<string, string>): XmlElementSpec =>
  typeof content === 'string' ? { name, text: content, ...(attributes ? { attributes } : {}) } : { name, children: content ?? [], ...(attributes ? { attributes } : {}) };

/** Optional element: omitted when the value is undefined. */
export const opt = (name: string, value: string | number | boolean | undefined): XmlElementSpec[] =>
  value === undefined ? [] : [el(name, String(value))];

const builder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: true,
  format: false,
  processEntities: true,
});

type Ordered = Record<string, unknown>;

function toOrdered(spec: XmlElementSpec): Ordered {
  const node: Ordered = { [spec.name]: spec.text !== undefined ? [{ '#text': spec.text }] : (spec.children ?? []).map(toOrdered) };
  if (spec.attributes) node[':@'] = Object.fromEntries(Object.entries(spec.attributes).map(([k, v]) => [`@_${k}`, v]));
  return node;
}

/** Serializes a document with its namespace declarations on the root. */
export function buildXml(root: XmlElementSpec): string {
  return `<?xml version="1.0" encoding="UTF-8"?>${builder.build([toOrdered(root)]) as string}`;
}
