/**
 * Reading request bodies (reference §3.1, §3.17, §5.1). Every body is parsed by namespace URI, must have the root
 * element the route expects in its namespace, and — when `validateXsd` is on and `sep.xsd` is present — must pass
 * the schema: chosen by the body's namespace (`schemaFor`), but a CSIP-AUS body is checked only against the core
 * schema of the server's own CSIP-AUS version (a v1.3 body to a v1.2 server fails, as envoy's would). Structural
 * checks (root, namespace, required fields, value types) always run, so the server is strict without the schemas.
 * Every failure is a 400 with an `Error` body.
 *
 * The seed profile also takes envoy-client 0.1.1's documents, whose root has no namespace at all (§6.1): such a
 * body is "legacy" (seed-compat.ts), gets a warning naming the namespace rule, and skips XSD validation (it cannot
 * pass); its root element and the handlers' structural checks still apply.
 */
import { CSIPAUS_NS, parseXml, SEP_NS, XmlError, type ParsedXml, type XmlObject, type XmlValue } from '../../adapters/sep2/xml.js';
import { schemaFor, type SchemaName, type XsdValidators } from '../../adapters/sep2/xsd.js';
import { badRequest } from './errors.js';
import type { ResolvedSep2Options } from './options.js';
import { ACCEPTED, type Warn } from './seed-compat.js';

export interface InboundContext {
  options: ResolvedSep2Options;
  /** Undefined when validation is off or sep.xsd is absent. */
  validators: XsdValidators | undefined;
  /** Records a deviation the seed profile accepted in the current request (request log + onWarning). */
  warn: Warn;
}

export interface InboundDocument extends ParsedXml {
  /** An envoy-client document without namespace, accepted by the seed profile (seed-compat.ts); never in envoy. */
  legacy: boolean;
}

const CSIPAUS_URIS = [...Object.values(CSIPAUS_NS), 'http://csipaus.org/ns'];

/**
 * Parses and checks a body whose root must be `root` (e.g. `EndDevice`, `csipaus:ConnectionPoint`).
 * `skipSchema` lets a caller accept a known non-schema legacy form (CSIP 1.1 ConnectionPoint `id`, §3.14).
 */
export function readBody(text: string, root: string, context: InboundContext, skipSchema?: (parsed: ParsedXml) => boolean): InboundDocument {
  if (text.trim() === '') throw badRequest(`The request body is empty; a ${root} document is required.`);
  let parsed: ParsedXml;
  try {
    parsed = parseXml(text);
  } catch (error) {
    throw badRequest(error instanceof XmlError ? error.message : 'The request body is not XML.');
  }
  const isCsipausRoot = root.startsWith('csipaus:');
  const server = context.options.csipaus;
  const uri = rootNamespace(text);
  if (uri === undefined && context.options.profile === 'seed') return legacyBody(parsed, root, isCsipausRoot, context);
  // parseXml keeps an element without any namespace under its local name; the schemas reject it (§3.1), and so
  // does this check of the root's own namespace (a root's prefix can only be declared on the root itself).
  const inNamespace = isCsipausRoot ? uri !== undefined && CSIPAUS_URIS.includes(uri) : uri === SEP_NS;
  if (!inNamespace) throw badRequest(`${root} must be in the ${isCsipausRoot ? 'CSIP-AUS' : SEP_NS} namespace.`);
  if (parsed.root !== root) throw badRequest(`Expected a ${root} document, got ${parsed.root}.`);
  checkCsipausNamespace(parsed, server, isCsipausRoot);
  if (context.validators && !(skipSchema?.(parsed) ?? false)) {
    const problems = context.validators.validate(text, schemaToUse(text, server));
    if (problems.length > 0) throw badRequest(`Schema validation failed: ${problems[0]}`);
  }
  return { ...parsed, legacy: false };
}

/** What a body USES counts here (a declaration alone is harmless, as it is to envoy's schema check). */
function checkCsipausNamespace(parsed: ParsedXml, server: ResolvedSep2Options['csipaus'], isCsipausRoot: boolean): void {
  const used = parsed.csipausUsed;
  if (used && server && used !== server) {
    throw badRequest(`This server uses the CSIP-AUS ${server} namespace ${CSIPAUS_NS[server]}.`);
  }
  if (used && !server && !isCsipausRoot) throw badRequest('CSIP-AUS elements are not expected by this plain IEEE 2030.5 server.');
}

/**
 * Seed profile: a root without any namespace is envoy-client's (§6.1 defect 1). Its root element must still be the
 * one expected (by local name: `ConnectionPoint` for `csipaus:ConnectionPoint`); no schema can pass it, so none is
 * run. Returned under the expected root name, children by local name.
 */
function legacyBody(parsed: ParsedXml, root: string, isCsipausRoot: boolean, context: InboundContext): InboundDocument {
  const local = isCsipausRoot ? root.slice('csipaus:'.length) : root;
  if (parsed.root !== local) throw badRequest(`Expected a ${local} document, got ${parsed.root}.`);
  checkCsipausNamespace(parsed, context.options.csipaus, isCsipausRoot);
  context.warn(isCsipausRoot
    ? `${local} has no namespace: CSIP-AUS requires csipaus:${local} in ${CSIPAUS_NS[context.options.csipaus ?? '1.2']} ${ACCEPTED}`
    : `${root} has no namespace: IEEE 2030.5 requires ${SEP_NS} ${ACCEPTED}`);
  return { ...parsed, root, legacy: true };
}

/** The namespace URI of the root element of a well-formed document, from the declarations on its start tag. */
function rootNamespace(text: string): string | undefined {
  const bare = text.replace(/<!--[\s\S]*?-->/g, '').replace(/<\?[\s\S]*?\?>/g, '');
  const start = /<(?:([A-Za-z_][\w.-]*):)?[A-Za-z_][\w.-]*((?:\s[^>]*)?)>/.exec(bare);
  if (!start) return undefined;
  const prefix = start[1];
  const attribute = prefix ? `xmlns:${prefix}` : 'xmlns';
  const declaration = new RegExp(`\\s${attribute}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(start[2] ?? '');
  return declaration ? (declaration[1] ?? declaration[2]) : undefined;
}

function schemaToUse(text: string, server: ResolvedSep2Options['csipaus']): SchemaName {
  const byNamespace = schemaFor(text);
  if (byNamespace === 'sep') return 'sep';
  return server ? `csipaus-${server}` : byNamespace;
}

// ---- field readers: each throws a 400 naming the field ---------------------------------------------------------

/** The text of a simple child element, or undefined when absent. */
export function text(body: XmlObject, name: string): string | undefined {
  const value: XmlValue | undefined = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badRequest(`${name} must appear once, as a simple value.`);
  return value;
}

export function required(body: XmlObject, name: string): string {
  const value = text(body, name);
  if (value === undefined || value === '') throw badRequest(`${name} is required.`);
  return value;
}

/** A child element that must be present (simple or complex). */
export function present(body: XmlObject, name: string): void {
  if (body[name] === undefined || body[name] === '') throw badRequest(`${name} is required.`);
}

/** Unsigned decimal of at most `bits` bits. */
export function unsigned(value: string, name: string, bits: number): bigint {
  if (!/^\d{1,20}$/.test(value)) throw badRequest(`${name} must be an unsigned decimal integer, got "${value}".`);
  const number = BigInt(value);
  if (number >= 1n << BigInt(bits)) throw badRequest(`${name} ${value} exceeds UInt${bits}.`);
  return number;
}

/** TimeType: Int64 seconds (§3.1). */
export function timeValue(value: string, name: string): number {
  if (!/^-?\d{1,19}$/.test(value)) throw badRequest(`${name} must be Unix seconds, got "${value}".`);
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw badRequest(`${name} ${value} is out of range.`);
  return number;
}

/** hexBinary: an even number of hex digits, no `0x`, at most `octets` octets (§3.1; envoy PR #302: 400 not 500). */
export function hexValue(value: string, name: string, octets: number): bigint {
  if (!/^[0-9A-Fa-f]*$/.test(value) || value.length % 2 !== 0) throw badRequest(`${name} must be hexBinary (an even number of hex digits, no 0x), got "${value}".`);
  if (value.length / 2 > octets) throw badRequest(`${name} has more than ${octets} octets.`);
  return value === '' ? 0n : BigInt(`0x${value}`);
}

export function booleanValue(value: string, name: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw badRequest(`${name} must be true, false, 1 or 0, got "${value}".`);
}
