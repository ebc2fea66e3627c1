/**
 * DeviceCapability, Time, EndDeviceList, EndDevice and Registration (reference §3.5–3.10).
 */
import { lfdiEquals } from '../../domain/sep2-identity.js';
import { canSee, hasVirtualEndDevice, visibleCount, visibleDuplicate, visibleSince } from './access.js';
import { ok, type Reply, type RequestContext } from './context.js';
import { fsaCount } from './der-function-set.js';
import {
  deviceCapabilityDocument, emptyListDocument, endDeviceDocument, endDeviceElement, endDeviceListDocument,
  registrationDocument, timeDocument, virtualEndDeviceElement,
} from './documents.js';
import { badRequest, conflict, DUPLICATE_END_DEVICE, forbidden, notFound } from './errors.js';
import { booleanValue, readBody, required, text, timeValue, unsigned } from './inbound.js';
import { pageRange, readPaging } from './paging.js';
import { ACCEPTED, checkManagedSfdi, checkOrder, END_DEVICE_ORDER, envoyClientSfdi, hexField, lfdiField, sfdiField } from './seed-compat.js';
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
  if (!site || !canSee(ctx.client, site)) throw notFound(`EndDevice ${edevId} not found.`);
  return site;
}

/**
 * GET EndDeviceList (§3.7): `s`/`a`/`l` paging over the virtual aggregator EndDevice (envoy, first, counted in
 * `all` and in `l` when s=0) followed by the client's sites in list order. Only the page's elements are built.
 */
export function getEndDeviceList(ctx: RequestContext): Reply {
  const paging = readPaging(ctx.query, ctx.options.defaultLimit);
  const { sites, count } = visibleSince(ctx.client, ctx.store, ctx.options, paging.after);
  const virtual = hasVirtualEndDevice(ctx.client, ctx.options) ? 1 : 0;
  const all = virtual + count;
  const items = pageRange(all, paging).map((index) => (index < virtual
    ? virtualEndDeviceElement(ctx.client, ctx.store, ctx.startedSeconds)
    : siteElement(ctx, sites.at(index - virtual)!)));
  return ok(endDeviceListDocument(ctx.options, ctx.store.listHref, all, items));
}

const siteElement = (ctx: RequestContext, site: Sep2Site) => endDeviceElement(site, ctx.options, fsaCount(ctx, site));

export const getEndDevice = (ctx: RequestContext, site: Sep2Site): Reply => ok(endDeviceDocument(siteElement(ctx, site), ctx.options));

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

/**
 * The checks of envoy's EndDeviceRequest and PR #302 (§3.8): 400 for a missing sFDI/changedTime or bad values. An
 * envoy-client body (seed profile, no namespace) may write lFDI as `0x…`/decimal, deviceCategory in decimal, a
 * 13-digit sFDI and the elements out of order, each with a warning (seed-compat.ts).
 */
function readEndDevice(ctx: RequestContext): EndDeviceBody {
  const document = readBody(ctx.body, 'EndDevice', ctx.inbound);
  const { body } = document;
  const { warn } = ctx.inbound;
  const sfdi = sfdiField(required(body, 'sFDI'), document, warn);
  const changedTime = timeValue(required(body, 'changedTime'), 'changedTime');
  const lfdiText = text(body, 'lFDI');
  const lfdi = lfdiText ? lfdiField(lfdiText, 'lFDI', document, warn) : undefined;
  const categoryText = text(body, 'deviceCategory');
  const deviceCategory = categoryText ? hexField(categoryText, 'deviceCategory', 4, 'DeviceCategoryType (HexBinary32)', document, warn) : 0n;
  if (deviceCategory > MAX_DEVICE_CATEGORY) throw badRequest(`deviceCategory ${categoryText} exceeds 3FFFFFF (bits 0–25).`);
  const enabledText = text(body, 'enabled');
  const postRateText = text(body, 'postRate');
  if (document.legacy) checkOrder(body, END_DEVICE_ORDER, 'EndDevice', 'EndDevice (sep.xsd)', warn);
  return {
    lfdi,
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
 * The seed profile (a server that, like the seed README's, does not check) warns instead of refusing where
 * envoy-client's SFDI algorithm is the only fault (§6.1 defect 7): a device certificate's sFDI that is envoy-client's
 * SFDI of the certificate LFDI, and an aggregator's sFDI that does not derive from the lFDI. Any other device sFDI or
 * lFDI mismatch stays 403: a device certificate registers only itself.
 */
export function postEndDevice(ctx: RequestContext): Reply {
  const { client, options, store } = ctx;
  if (!options.inBandRegistration) throw forbidden('In-band registration is disabled on this server; EndDevices are registered out of band.');
  const device = readEndDevice(ctx);
  let lfdi = device.lfdi;
  if (client.kind === 'device') {
    if (lfdi === undefined) lfdi = client.lfdi;
    else if (!lfdiEquals(lfdi, client.lfdi)) throw forbidden('lfdi mismatch');
    if (device.sfdi !== client.sfdi) {
      if (options.profile !== 'seed' || device.sfdi !== envoyClientSfdi(client.lfdi)) throw forbidden('sfdi mismatch');
      ctx.inbound.warn(`sFDI ${device.sfdi} is not the SFDI of the certificate LFDI ${client.lfdi}: IEEE 2030.5 §6.3.5 derives ${client.sfdi}; `
        + `${device.sfdi} is what envoy-client 0.1.1's SFDI algorithm gives ${ACCEPTED}`);
    }
  } else {
    if (lfdi === undefined) throw badRequest('lfdi required for aggregator managed devices');
    if (lfdiEquals(lfdi, client.lfdi)) throw forbidden('An aggregator cannot register its own certificate LFDI as a managed device.');
    if (options.profile === 'seed') checkManagedSfdi(device.sfdi, lfdi, ctx.inbound.warn);
  }
  const registeredLfdi = lfdi;
  const existing = visibleDuplicate(client, store, registeredLfdi, device.sfdi);
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
