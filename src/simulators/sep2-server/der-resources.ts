/**
 * DeviceInformation (seed profile), DERList, DER and the four DER resources (reference §3.11–3.13, §5.2, §5.3).
 * PUT stores the parsed document and answers the configured success status (envoy 204, seed 200); GET answers the
 * stored document, or 404 before the first PUT (envoy). An envoy-client body (seed profile, no namespace) is stored
 * normalized — hex fields as hexBinary, the LFDI as 40 hex digits, elements in schema order — so that GET answers
 * stay valid documents; every deviation is a warning (seed-compat.ts).
 */
import { hexBinary } from '../../adapters/sep2/resources.js';
import type { XmlObject } from '../../adapters/sep2/xml.js';
import { lfdiEquals } from '../../domain/sep2-identity.js';
import { ok, written, type Reply, type RequestContext } from './context.js';
import { derDocument, derElement, derListDocument, storedDocument } from './documents.js';
import { notFound } from './errors.js';
import { hexValue, present, readBody, required, text, timeValue, unsigned, type InboundDocument } from './inbound.js';
import type { SuccessResource } from './options.js';
import { page, readPaging } from './paging.js';
import type { DerResourceName } from './routes.js';
import {
  ACCEPTED, checkOrder, childInOrder, derCapabilityInOrder, DEVICE_INFORMATION_ORDER, GPS_LOCATION_ORDER, hexField, inSchemaOrder, lfdiField,
} from './seed-compat.js';
import type { Sep2Der, Sep2Site } from './store.js';

interface DerResourceKind {
  root: string;
  field: 'capability' | 'settings' | 'status' | 'availability';
  success: SuccessResource;
  /**
   * Checks beyond the schema's and envoy's required fields (each throws a 400); returns the body to store (an
   * envoy-client body normalized).
   */
  check(body: XmlObject, ctx: RequestContext, document: InboundDocument): XmlObject;
}

/**
 * Required fields: the schema's minOccurs=1 elements, which are also what envoy's models require: DERCapability
 * modesSupported, rtgMaxW, type, and on CSIP-AUS servers `csipaus:doeModesSupported` (minOccurs=1 in the CSIP-AUS
 * redefine; envoy 400 without it, §3.13); DERSettings setGradW, setMaxW, updatedTime; DERStatus and
 * DERAvailability readingTime.
 */
const KINDS: Record<DerResourceName, DerResourceKind> = {
  dercap: {
    root: 'DERCapability', field: 'capability', success: 'derCapability',
    check(body, ctx, document) {
      const { warn } = ctx.inbound;
      const modes = hexField(required(body, 'modesSupported'), 'modesSupported', 4, 'DERControlType (HexBinary32)', document, warn);
      present(body, 'rtgMaxW');
      unsigned(required(body, 'type'), 'type', 8);
      const doe = ctx.options.csipaus ? text(body, 'csipaus:doeModesSupported') : undefined;
      if (ctx.options.csipaus && document.legacy && doe === undefined) {
        warn(`DERCapability has no csipaus:doeModesSupported: CSIP-AUS requires it (minOccurs=1) ${ACCEPTED}`);
      } else if (ctx.options.csipaus) hexValue(required(body, 'csipaus:doeModesSupported'), 'csipaus:doeModesSupported', 1);
      if (!document.legacy) return body;
      return { ...derCapabilityInOrder(body, warn), modesSupported: hexBinary(modes, 4) };
    },
  },
  derg: {
    root: 'DERSettings', field: 'settings', success: 'derSettings',
    check(body) {
      unsigned(required(body, 'setGradW'), 'setGradW', 16);
      present(body, 'setMaxW');
      timeValue(required(body, 'updatedTime'), 'updatedTime');
      return body;
    },
  },
  ders: {
    root: 'DERStatus', field: 'status', success: 'derStatus',
    check(body) {
      timeValue(required(body, 'readingTime'), 'readingTime');
      return body;
    },
  },
  dera: {
    root: 'DERAvailability', field: 'availability', success: 'derAvailability',
    check(body) {
      timeValue(required(body, 'readingTime'), 'readingTime');
      return body;
    },
  },
};

// ---- DeviceInformation (Profile A only; envoy has no route, §3.11) ------------------------------------------------

const DEVICE_INFORMATION_REQUIRED = ['mfDate', 'mfHwVer', 'mfID', 'mfModel', 'mfSerNum', 'primaryPower', 'secondaryPower', 'swActTime', 'swVer'];

export function putDeviceInformation(ctx: RequestContext, site: Sep2Site): Reply {
  const document = readBody(ctx.body, 'DeviceInformation', ctx.inbound);
  const { warn } = ctx.inbound;
  const body = document.legacy ? { ...document.body } : document.body;
  const lfdi = lfdiField(required(body, 'lFDI'), 'lFDI', document, warn);
  for (const name of DEVICE_INFORMATION_REQUIRED) required(body, name);
  unsigned(required(body, 'mfID'), 'mfID', 32);
  if (ctx.options.profile === 'seed' && !lfdiEquals(lfdi, site.lfdi)) {
    warn(`DeviceInformation lFDI ${lfdi} is not the EndDevice's lFDI ${site.lfdi}: IEEE 2030.5 DeviceInformation.lFDI is the device's LFDI ${ACCEPTED}`);
  }
  site.deviceInformation = document.legacy ? legacyDeviceInformation(body, lfdi, document, warn) : body;
  return written(ctx.options.successStatus.deviceInformation, `${site.href}/di`);
}

/** An envoy-client DeviceInformation, normalized for storage: hex functionsImplemented, 40-hex lFDI, schema order. */
function legacyDeviceInformation(body: XmlObject, lfdi: string, document: InboundDocument, warn: (message: string) => void): XmlObject {
  const functions = text(body, 'functionsImplemented');
  if (functions !== undefined) body.functionsImplemented = hexBinary(hexField(functions, 'functionsImplemented', 8, 'HexBinary64', document, warn), 8);
  body.lFDI = lfdi;
  checkOrder(body, DEVICE_INFORMATION_ORDER, 'DeviceInformation', 'DeviceInformation (sep.xsd)', warn);
  const ordered = inSchemaOrder(body, DEVICE_INFORMATION_ORDER);
  childInOrder(ordered, 'gpsLocation', GPS_LOCATION_ORDER, 'DeviceInformation', 'GPSLocationType', warn);
  return ordered;
}

export function getDeviceInformation(ctx: RequestContext, site: Sep2Site): Reply {
  if (!site.deviceInformation) throw notFound('DeviceInformation has not been written yet.');
  return ok(storedDocument('DeviceInformation', site.deviceInformation, `${site.href}/di`, ctx.options));
}

// ---- DERList and DER ---------------------------------------------------------------------------------------------

export function getDerList(ctx: RequestContext, site: Sep2Site): Reply {
  const paging = readPaging(ctx.query, ctx.options.defaultLimit);
  const programs = ctx.programs.programs(site).length;
  const items = site.ders.map((der) => derElement(der, ctx.options, programs));
  return ok(derListDocument(ctx.options, `${site.href}/der`, items.length, page(items, paging)));
}

/** Seed profile: POST `<DER/>` to the DERList → 201 + Location of the new DER (§3.12). envoy: 405 (routes.ts). */
export function postDer(ctx: RequestContext, site: Sep2Site): Reply {
  readBody(ctx.body, 'DER', ctx.inbound);
  const der = ctx.store.addDer(site);
  return { status: 201, body: '', location: der.href };
}

/** The DER behind `{edev}/der/{id}`; envoy only has `der/1` (§3.12), other ids → 404. */
export function findDer(site: Sep2Site, derId: string): Sep2Der {
  const der = site.ders.find((candidate) => candidate.id === derId);
  if (!der) throw notFound(`DER ${derId} not found.`);
  return der;
}

export const getDer = (ctx: RequestContext, site: Sep2Site, der: Sep2Der): Reply => ok(derDocument(der, ctx.options, ctx.programs.programs(site).length));

// ---- DERCapability, DERSettings, DERStatus, DERAvailability ------------------------------------------------------

export function putDerResource(ctx: RequestContext, der: Sep2Der, name: DerResourceName): Reply {
  const kind = KINDS[name];
  const document = readBody(ctx.body, kind.root, ctx.inbound);
  const body = kind.check(document.body, ctx, document);
  if (ctx.options.profile === 'seed' && !ctx.options.derLinks) {
    ctx.inbound.warn(`${kind.root} at ${der.href}/${name}, which this server does not link (derLinks off): IEEE 2030.5 clients follow the DER's ${kind.root}Link ${ACCEPTED}`);
  }
  der[kind.field] = body;
  return written(ctx.options.successStatus[kind.success], `${der.href}/${name}`);
}

export function getDerResource(ctx: RequestContext, der: Sep2Der, name: DerResourceName): Reply {
  const kind = KINDS[name];
  const stored = der[kind.field];
  if (!stored) throw notFound(`${kind.root} has not been written yet.`);
  return ok(storedDocument(kind.root, stored, `${der.href}/${name}`, ctx.options));
}
