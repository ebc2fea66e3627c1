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
import type { Sep2Site, SiteStore } from './store.js';

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
  const ownsSite = store.sites.some((site) => site.owner === lfdi);
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
 * seed profile keeps creation order [SIM-CONFIG: the seed README does not say].
 */
export function visibleSites(client: Sep2Client, store: SiteStore, options: ResolvedSep2Options): Sep2Site[] {
  const sites = store.sites.filter((site) => canSee(client, site));
  if (options.profile === 'seed') return sites.sort((a, b) => a.created - b.created);
  return sites.sort((a, b) => b.changedTime - a.changedTime || compareDecimal(a.sfdi, b.sfdi));
}

const compareDecimal = (a: string, b: string): number => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** How many EndDevices the client can see, the virtual one included (`EndDeviceListLink all`, §3.5). */
export const visibleCount = (client: Sep2Client, store: SiteStore, options: ResolvedSep2Options): number =>
  store.sites.filter((site) => canSee(client, site)).length + (hasVirtualEndDevice(client, options) ? 1 : 0);
