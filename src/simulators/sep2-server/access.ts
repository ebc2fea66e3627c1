/**
 * Who the client is and what it may see (reference §2.5, §3.7), after envoy's lfdi_auth.py:
 * - an **aggregator** certificate (configured out of band) sees every site it owns and, in the envoy profile, its
 *   own virtual EndDevice first at `/edev/0`;
 * - any other certificate is a **device** certificate limited to the site registered with its own LFDI, when
 *   device registration is allowed (else 403 "Unrecognised client certificate.") — a certificate that owns an
 *   out-of-band (pre-registered) site is always recognised.
 */
import { lfdiEquals, sfdiFromLfdi } from '../../domain/sep2-identity.js';
import { forbidden, UNRECOGNISED_CERTIFICATE } from './errors.js';
import type { ResolvedSep2Options } from './options.js';
import type { Sep2Site, SiteList, SiteStore } from './store.js';

export interface Sep2Client {
  kind: 'aggregator' | 'device';
  /** Uppercased certificate LFDI. */
  lfdi: string;
  sfdi: string;
}

export function classifyClient(certificateLfdi: string, options: ResolvedSep2Options, store: SiteStore): Sep2Client {
  const lfdi = certificateLfdi.toUpperCase();
  const sfdi = sfdiFromLfdi(lfdi);
  if (options.aggregators.includes(lfdi)) return { kind: 'aggregator', lfdi, sfdi };
  const ownsSite = store.hasOwner(lfdi);
  if (!ownsSite && !options.allowDeviceRegistration) throw forbidden(UNRECOGNISED_CERTIFICATE);
  return { kind: 'device', lfdi, sfdi };
}

export function canSee(client: Sep2Client, site: Sep2Site): boolean {
  if (site.owner !== client.lfdi) return false;
  return client.kind === 'aggregator' || lfdiEquals(site.lfdi, client.lfdi);
}

/** Whether the aggregator's virtual EndDevice exists for this client (envoy profile only, reference §3.7). */
export const hasVirtualEndDevice = (client: Sep2Client, options: ResolvedSep2Options): boolean =>
  client.kind === 'aggregator' && options.profile === 'envoy';

/**
 * The client's sites in list order: envoy orders by `changedTime` descending, then `sFDI` ascending (§3.7); the
 * seed profile keeps creation order [SIM-CONFIG: the seed README does not say]. The store keeps both orders per
 * owner, so this costs nothing for an aggregator; the result is the store's live, read-only view.
 */
export function visibleSites(client: Sep2Client, store: SiteStore): SiteList {
  if (client.kind === 'aggregator') return store.listed(client.lfdi);
  // A device certificate sees only its own site(s) among those it owns: few, sorted here.
  const own = store.withLfdi(client.lfdi, client.lfdi);
  return own.length <= 1 ? own : [...own].sort((a, b) => store.compareListed(a, b));
}

/**
 * The client's sites with `changedTime ≥ after` (the list's `a`), in list order: the first `count` of `sites`.
 * envoy's order puts them first (found by bisection); in creation order they are filtered only when some site is
 * older than `after`.
 */
export function visibleSince(client: Sep2Client, store: SiteStore, options: ResolvedSep2Options, after: number): { sites: SiteList; count: number } {
  const sites = visibleSites(client, store);
  if (options.profile === 'envoy') {
    let low = 0;
    let high = sites.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (sites.at(mid)!.changedTime >= after) low = mid + 1;
      else high = mid;
    }
    return { sites, count: low };
  }
  if (client.kind === 'aggregator' && after <= store.minChangedTime(client.lfdi)) return { sites, count: sites.length };
  const since: Sep2Site[] = [];
  for (let index = 0; index < sites.length; index += 1) {
    const site = sites.at(index)!;
    if (site.changedTime >= after) since.push(site);
  }
  return { sites: since, count: since.length };
}

/**
 * The first of the client's sites, in list order, with this lFDI (any case) or this sFDI value: POST's duplicate
 * (§3.8), found through the store's lookups rather than a walk of the list.
 */
export function visibleDuplicate(client: Sep2Client, store: SiteStore, lfdi: string, sfdi: string): Sep2Site | undefined {
  let first: Sep2Site | undefined;
  for (const site of [...store.withLfdi(client.lfdi, lfdi), ...store.withSfdi(client.lfdi, sfdi)]) {
    if (canSee(client, site) && (first === undefined || store.compareListed(site, first) < 0)) first = site;
  }
  return first;
}

/** How many EndDevices the client can see, the virtual one included (`EndDeviceListLink all`, §3.5). */
export const visibleCount = (client: Sep2Client, store: SiteStore, options: ResolvedSep2Options): number =>
  visibleSites(client, store).length + (hasVirtualEndDevice(client, options) ? 1 : 0);
