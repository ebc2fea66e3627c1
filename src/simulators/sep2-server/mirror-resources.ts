/**
 * The metering-mirror resources of the test server, as envoy serves them:
 *
 *   /mup        MirrorUsagePointList   GET (paged, `pollRate`), POST MirrorUsagePoint → 201 + Location (an existing
 *                                      one of the same client and mRID is returned, its readings merged)
 *   /mup/{id}   MirrorUsagePoint       GET, POST MirrorMeterReading → 201 (a MirrorMeterReadingList → 400, as envoy)
 *
 * Bodies are checked by readBody (root, namespace and, when sep.xsd is present, the XSD) and structurally. A usage
 * point's deviceLFDI must be an EndDevice the client may see; a reading must name a MirrorMeterReading its usage
 * point defines (or carry its own ReadingType) and have a Reading with timePeriod and value. Every MirrorUsagePoint
 * carries the current `postRate`.
 */
import { lfdiEquals } from '../../domain/sep2-identity.js';
import { el, type XmlElementSpec, type XmlObject, type XmlValue } from '../../adapters/sep2/xml.js';
import { hexBinary } from '../../adapters/sep2/resources.js';
import { canSee, visibleCount, visibleSites } from './access.js';
import { ok, type Reply, type RequestContext } from './context.js';
import { deviceCapabilityDocument, listAttributes, rooted } from './documents.js';
import { buildXml } from '../../adapters/sep2/xml.js';
import { badRequest, notFound } from './errors.js';
import { hexValue, readBody, required, text, timeValue, unsigned } from './inbound.js';
import type { MirrorReadingType, MirrorStore, Sep2MirrorUsagePoint } from './mirror-store.js';
import { page, readPaging } from './paging.js';

const TYPE_FIELDS = ['commodity', 'dataQualifier', 'flowDirection', 'intervalLength', 'kind', 'phase', 'powerOfTenMultiplier', 'uom'] as const;

function usagePointElement(mup: Sep2MirrorUsagePoint, postRate: number): XmlElementSpec {
  return el('MirrorUsagePoint', [
    el('mRID', mup.mrid),
    ...(mup.description ? [el('description', mup.description)] : []),
    el('roleFlags', hexBinary(mup.roleFlags, 2)),
    el('serviceCategoryKind', String(mup.serviceCategoryKind)),
    el('status', String(mup.status)),
    el('deviceLFDI', mup.deviceLfdi),
    ...[...mup.readings].map(([mrid, reading]) => el('MirrorMeterReading', [
      el('mRID', mrid),
      ...(reading.description ? [el('description', reading.description)] : []),
      el('ReadingType', TYPE_FIELDS.filter((f) => reading.type[f] !== undefined).map((f) => el(f, String(reading.type[f])))),
    ])),
    el('postRate', String(postRate)),
  ], { href: mup.href });
}

/** The DeviceCapability, its MirrorUsagePointListLink counting the client's usage points. */
export function getDeviceCapabilityWithMirrors(ctx: RequestContext, mirrors: MirrorStore): Reply {
  const mups = mirrors.owned(ctx.client.lfdi).filter((m) => visible(ctx, m)).length;
  return ok(deviceCapabilityDocument(ctx.options, ctx.store, visibleCount(ctx.client, ctx.store, ctx.options), mups));
}

export function getMirrorUsagePointList(ctx: RequestContext, mirrors: MirrorStore): Reply {
  const owned = mirrors.owned(ctx.client.lfdi).filter((m) => visible(ctx, m));
  const items = page(owned, readPaging(ctx.query, ctx.options.defaultLimit)).map((m) => usagePointElement(m, mirrors.postRate));
  const attributes = listAttributes(mirrors.listHref, owned.length, items.length, ctx.options.pollRates.MirrorUsagePointList, false);
  return ok(buildXml(rooted(el('MirrorUsagePointList', items, attributes), ctx.options.csipaus)));
}

export function getMirrorUsagePoint(ctx: RequestContext, mirrors: MirrorStore, id: string): Reply {
  return ok(buildXml(rooted(usagePointElement(found(ctx, mirrors, id), mirrors.postRate), ctx.options.csipaus)));
}

function visible(ctx: RequestContext, mup: Sep2MirrorUsagePoint): boolean {
  const site = ctx.store.byId(mup.site);
  return site !== undefined && canSee(ctx.client, site);
}

function found(ctx: RequestContext, mirrors: MirrorStore, id: string): Sep2MirrorUsagePoint {
  const mup = mirrors.byId(id);
  if (!mup || mup.owner !== ctx.client.lfdi || !visible(ctx, mup)) throw notFound(`MirrorUsagePoint ${id} not found.`);
  return mup;
}

const many = (value: XmlValue | undefined): XmlValue[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const object = (value: XmlValue | undefined, name: string): XmlObject => {
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`${name} must appear once, with its elements.`);
  return value;
};

function readingType(value: XmlValue | undefined): MirrorReadingType | undefined {
  if (value === undefined) return undefined;
  const body = value === '' ? {} : object(value, 'ReadingType');
  const type: MirrorReadingType = {};
  for (const field of TYPE_FIELDS) {
    const raw = text(body, field);
    if (raw === undefined) continue;
    if (field === 'powerOfTenMultiplier') {
      if (!/^-?\d{1,2}$/.test(raw) || Math.abs(Number(raw)) > 9) throw badRequest(`powerOfTenMultiplier must be -9..9, got "${raw}".`);
      type[field] = Number(raw);
    } else type[field] = Number(unsigned(raw, field, field === 'intervalLength' ? 32 : 8));
  }
  return type;
}

/** POST /mup: a MirrorUsagePoint for one of the client's EndDevices. */
export function postMirrorUsagePoint(ctx: RequestContext, mirrors: MirrorStore): Reply {
  const { body } = readBody(ctx.body, 'MirrorUsagePoint', ctx.inbound);
  const mrid = required(body, 'mRID');
  hexValue(mrid, 'mRID', 16);
  const roleFlags = Number(hexValue(required(body, 'roleFlags'), 'roleFlags', 2));
  const serviceCategoryKind = Number(unsigned(required(body, 'serviceCategoryKind'), 'serviceCategoryKind', 8));
  const status = Number(unsigned(required(body, 'status'), 'status', 8));
  const deviceLfdi = required(body, 'deviceLFDI');
  hexValue(deviceLfdi, 'deviceLFDI', 20);
  const site = visibleSites(ctx.client, ctx.store);
  let siteId: string | undefined;
  for (let i = 0; i < site.length && siteId === undefined; i += 1) if (lfdiEquals(site.at(i)!.lfdi, deviceLfdi)) siteId = site.at(i)!.id;
  if (siteId === undefined) throw badRequest(`deviceLFDI '${deviceLfdi}' is not an EndDevice of this client.`);
  const readings = new Map<string, { description: string | undefined; type: MirrorReadingType }>();
  for (const item of many(body.MirrorMeterReading)) {
    const mmr = object(item, 'MirrorMeterReading');
    const readingMrid = required(mmr, 'mRID');
    hexValue(readingMrid, 'MirrorMeterReading mRID', 16);
    readings.set(readingMrid.toUpperCase(), { description: text(mmr, 'description'), type: readingType(mmr.ReadingType) ?? {} });
  }
  const { mup } = mirrors.upsert({
    owner: ctx.client.lfdi, site: siteId, mrid: mrid.toUpperCase(), description: text(body, 'description'), roleFlags, serviceCategoryKind, status,
    deviceLfdi: deviceLfdi.toUpperCase(), readings,
  });
  return { status: 201, body: '', location: mup.href };
}

/** POST /mup/{id}: one MirrorMeterReading with its Reading. */
export function postMirrorReading(ctx: RequestContext, mirrors: MirrorStore, id: string): Reply {
  const mup = found(ctx, mirrors, id);
  if (ctx.body.includes('MirrorMeterReadingList')) throw badRequest('Request body must be a MirrorMeterReading.');
  const { body } = readBody(ctx.body, 'MirrorMeterReading', ctx.inbound);
  const mrid = required(body, 'mRID').toUpperCase();
  hexValue(mrid, 'mRID', 16);
  const ownType = readingType(body.ReadingType);
  const defined = mup.readings.get(mrid);
  if (!defined && !ownType) throw badRequest(`MirrorMeterReading ${mrid} is not defined on MirrorUsagePoint ${mup.id} and carries no ReadingType.`);
  if (!defined && ownType) mup.readings.set(mrid, { description: text(body, 'description'), type: ownType });
  const reading = object(body.Reading, 'Reading');
  const period = object(reading.timePeriod, 'timePeriod');
  const duration = Number(unsigned(required(period, 'duration'), 'duration', 32));
  const start = timeValue(required(period, 'start'), 'start');
  const valueText = required(reading, 'value');
  if (!/^-?\d{1,15}$/.test(valueText) || Math.abs(Number(valueText)) >= 2 ** 47) throw badRequest(`value must be an Int48, got "${valueText}".`);
  const quality = text(reading, 'qualityFlags');
  mirrors.record(mup, {
    atMs: ctx.options.now(), mrid, description: text(body, 'description') ?? mup.readings.get(mrid)?.description,
    type: mup.readings.get(mrid)!.type, start, duration, value: Number(valueText),
    qualityFlags: quality === undefined ? 0 : Number(hexValue(quality, 'qualityFlags', 2)), body: ctx.body,
  });
  return { status: 201, body: '' };
}
