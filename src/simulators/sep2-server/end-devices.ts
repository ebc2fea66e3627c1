/**
 * DeviceCapability, Time, EndDeviceList, EndDevice and Registration (reference §3.5–3.10).
 */
import { lfdiEquals } from '../../domain/sep2-identity.js';
import { hasVirtualEndDevice, visibleCount, visibleSites } from './access.js';
import { ok, type Reply, type RequestContext } from './context.js';
import {
  deviceCapabilityDocument, emptyListDocument, endDeviceDocument, endDeviceElement, endDeviceListDocument,
  registrationDocument, timeDocument, virtualEndDeviceElement,
} from './documents.js';
import { badRequest, conflict, DUPLICATE_END_DEVICE, forbidden, notFound } from './errors.js';
import { booleanValue, hexValue, readBody, required, text, timeValue, unsigned } from './inbound.js';
import { page, readPaging } from './paging.js';
import type { Sep2Site } from './store.js';

/** All 26 DeviceCategoryType bits (§3.3); envoy answers 400 above this. */
const MAX_DEVICE_CATEGORY = 0x3ff_ffffn;

export const getDeviceCapability = (ctx: RequestContext): Reply =>
  ok(deviceCapabilityDocument(ctx.options, ctx.store, visibleCount(ctx.client, ctx.store, ctx.options)));

export const getTime = (ctx: RequestContext): Reply => ok(timeDocument(ctx.options, ctx.nowSeconds));

export const getEmptyList = (ctx: RequestContext, name: string, href: string): Reply => ok(emptyListDocument(ctx.options, name, href));

/** The site behind `/edev/{id}` if this client may see it; 404 otherwise, as envoy hides foreign sites (§3.16). */
export function visibleSite(ctx: RequestContext, edevId: string): Sep2Site {
  const site = ctx.store.byId(edevId);
  if (!site || !visibleSites(ctx.client, ctx.store, ctx.options).includes(site)) throw notFound(`EndDevice ${edevId} not found.`);
  return site;
}

/**
 * GET EndDeviceList (§3.7): `s`/`a`/`l` paging over the virtual aggregator EndDevice (envoy, first, counted in
 * `all` and in `l` when s=0) followed by the client's sites in list order.
 */
export function getEndDeviceList(ctx: RequestContext): Reply {
  const paging = readPaging(ctx.query, ctx.options.defaultLimit);
  const sites = visibleSites(ctx.client, ctx.store, ctx.options).filter((site) => site.changedTime >= paging.after);
  const items = [
    ...(hasVirtualEndDevice(ctx.client, ctx.options) ? [virtualEndDeviceElement(ctx.client, ctx.store, ctx.startedSeconds)] : []),
    ...sites.map((site) => endDeviceElement(site, ctx.options)),
  ];
  return ok(endDeviceListDocument(ctx.options, ctx.store.listHref, items.length, page(items, paging)));
}

export const getEndDevice = (ctx: RequestContext, site: Sep2Site): Reply => ok(endDeviceDocument(endDeviceElement(site, ctx.options), ctx.options));

export const getVirtualEndDevice = (ctx: RequestContext): Reply =>
  ok(endDeviceDocument(virtualEndDeviceElement(ctx.client, ctx.store, ctx.startedSeconds), ctx.options));

/** envoy: DELETE of a site → 204 (§3.4). The virtual EndDevice is refused earlier (403). */
export function deleteEndDevice(ctx: RequestContext, site: Sep2Site): Reply {
  ctx.store.remove(site);
  return { status: 204, body: '' };
}

export const getRegistration = (ctx: RequestContext, site: Sep2Site): Reply => ok(registrationDocument(site, ctx.options));

interface EndDeviceBody {
  lfdi: string | undefined;
  sfdi: string;
  changedTime: number;
  deviceCategory: number;
  enabled: boolean;
  postRate: number | undefined;
}

/** The checks of envoy's EndDeviceRequest and PR #302 (§3.8): 400 for a missing sFDI/changedTime or bad values. */
function readEndDevice(ctx: RequestContext): EndDeviceBody {
  const { body } = readBody(ctx.body, 'EndDevice', ctx.inbound);
  const sfdi = unsigned(required(body, 'sFDI'), 'sFDI', 40).toString();
  const changedTime = timeValue(required(body, 'changedTime'), 'changedTime');
  const lfdiText = text(body, 'lFDI');
  if (lfdiText) hexValue(lfdiText, 'lFDI', 20);
  const categoryText = text(body, 'deviceCategory');
  const deviceCategory = categoryText ? hexValue(categoryText, 'deviceCategory', 4) : 0n;
  if (deviceCategory > MAX_DEVICE_CATEGORY) throw badRequest(`deviceCategory ${categoryText} exceeds 3FFFFFF (bits 0–25).`);
  const enabledText = text(body, 'enabled');
  const postRateText = text(body, 'postRate');
  return {
    lfdi: lfdiText || undefined,
    sfdi,
    changedTime,
    deviceCategory: Number(deviceCategory),
    enabled: enabledText === undefined ? true : booleanValue(enabledText, 'enabled'),
    postRate: postRateText === undefined ? undefined : Number(unsigned(postRateText, 'postRate', 32)),
  };
}

/**
 * POST EndDevice (§3.8, §5.3), envoy's rules:
 * - in-band registration off → 403;
 * - device certificate: body lFDI must be the certificate's (403 "lfdi mismatch"; filled in when absent, envoy PR
 *   #332), body sFDI must be the certificate's SFDI (403 "sfdi mismatch");
 * - aggregator: lFDI required (400), never its own LFDI (403, envoy PR #354); its sFDI is not checked against the
 *   lFDI (envoy does not; the CSIP-AUS harness does);
 * - same lFDI (any case) or sFDI among the client's sites → 409 "lFDI or sFDI conflict." (envoy PR #281) or, with
 *   duplicatePolicy 'location', 200 + Location of the existing EndDevice (GridAPPS-D) [SIM-CONFIG];
 * - created → 201, `Location`, empty body.
 */
export function postEndDevice(ctx: RequestContext): Reply {
  const { client, options, store } = ctx;
  if (!options.inBandRegistration) throw forbidden('In-band registration is disabled on this server; EndDevices are registered out of band.');
  const device = readEndDevice(ctx);
  let lfdi = device.lfdi;
  if (client.kind === 'device') {
    if (lfdi === undefined) lfdi = client.lfdi;
    else if (!lfdiEquals(lfdi, client.lfdi)) throw forbidden('lfdi mismatch');
    if (device.sfdi !== client.sfdi) throw forbidden('sfdi mismatch');
  } else {
    if (lfdi === undefined) throw badRequest('lfdi required for aggregator managed devices');
    if (lfdiEquals(lfdi, client.lfdi)) throw forbidden('An aggregator cannot register its own certificate LFDI as a managed device.');
  }
  const registeredLfdi = lfdi;
  const existing = visibleSites(client, store, options)
    .find((site) => lfdiEquals(site.lfdi, registeredLfdi) || BigInt(site.sfdi) === BigInt(device.sfdi));
  if (existing) {
    if (options.duplicatePolicy === 'location') return { status: 200, body: '', location: existing.href };
    throw conflict(DUPLICATE_END_DEVICE);
  }
  const site = store.add({
    lfdi: registeredLfdi, sfdi: device.sfdi, deviceCategory: device.deviceCategory, changedTime: device.changedTime,
    enabled: device.enabled, postRate: device.postRate, owner: client.lfdi, outOfBand: false, nmi: '',
  });
  return { status: 201, body: '', location: site.href };
}
