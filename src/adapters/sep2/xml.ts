/**
 * The 2030.5 XML codec on fast-xml-parser (reference §3.1, §4.4, §4.5).
 *
 * Parsing is namespace-aware by URI, never by prefix (`ns2:` and `csipaus:` alike): 2030.5 elements keep their
 * local name, CSIP-AUS elements (any version) become `csipaus:<local>`, and the CSIP-AUS namespace seen is
 * reported. Values stay text (`parseTagValue: false`), so LFDI, SFDI and Int64 times are never turned into numbers.
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
  /** The CSIP-AUS namespace the document used, if any. */
  csipaus: CsipausVersion | undefined;
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

function csipausVersionOf(uri: string): CsipausVersion | undefined {
  if (uri === CSIPAUS_NS['1.2'] || uri === CSIPAUS_LEGACY) return '1.2';
  if (uri === CSIPAUS_NS['1.3']) return '1.3';
  return undefined;
}

interface Scope {
  prefixes: Map<string, string>; // '' = default namespace
  seen: { csipaus: CsipausVersion | undefined };
}

function normalizeName(qualified: string, scope: Scope): string {
  const colon = qualified.indexOf(':');
  const prefix = colon >= 0 ? qualified.slice(0, colon) : '';
  const local = colon >= 0 ? qualified.slice(colon + 1) : qualified;
  const uri = scope.prefixes.get(prefix);
  if (uri === undefined) {
    if (prefix !== '') throw new XmlError(`namespace prefix "${prefix}" is not declared`);
    return local; // no namespace at all: kept by local name; schema validation reports it
  }
  if (uri === SEP_NS) return local;
  const version = csipausVersionOf(uri);
  if (version) {
    scope.seen.csipaus ??= version;
    return `csipaus:${local}`;
  }
  return `{${uri}}${local}`;
}

function normalizeElement(value: unknown, parent: Scope): XmlValue {
  if (Array.isArray(value)) return value.map((v) => normalizeElement(v, parent));
  if (typeof value !== 'object' || value === null) return String(value ?? '');
  const record = value as Record<string, unknown>;
  const prefixes = new Map(parent.prefixes);
  for (const [key, v] of Object.entries(record)) {
    if (key === '@_xmlns') prefixes.set('', String(v));
    else if (key.startsWith('@_xmlns:')) prefixes.set(key.slice(8), String(v));
  }
  const scope: Scope = { prefixes, seen: parent.seen };
  const out: XmlObject = {};
  for (const [key, v] of Object.entries(record)) {
    if (key === '@_xmlns' || key.startsWith('@_xmlns:')) continue;
    if (key.startsWith('@_')) {
      const colon = key.indexOf(':');
      out[colon >= 0 ? `@_${key.slice(colon + 1)}` : key] = String(v);
    } else if (key === '#text') out[key] = String(v);
    else out[normalizeName(key, scope)] = normalizeElement(v, scope);
  }
  // An element holding only text and namespace declarations is its text.
  const keys = Object.keys(out);
  if (keys.length === 1 && keys[0] === '#text') return out['#text'] as string;
  return out;
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
  const seen = { csipaus: undefined as CsipausVersion | undefined };
  const scope: Scope = { prefixes: new Map(), seen };
  // Root-level namespace declarations are attributes of the root element itself.
  const rootValue = raw[rootKey];
  const rootRecord = typeof rootValue === 'object' && rootValue !== null ? (rootValue as Record<string, unknown>) : {};
  for (const [key, v] of Object.entries(rootRecord)) {
    if (key === '@_xmlns') scope.prefixes.set('', String(v));
    else if (key.startsWith('@_xmlns:')) scope.prefixes.set(key.slice(8), String(v));
  }
  const root = normalizeName(rootKey, scope);
  const body = normalizeElement(rootValue ?? '', scope);
  return { root, body: typeof body === 'object' && !Array.isArray(body) ? body : { '#text': String(body) }, csipaus: seen.csipaus };
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
