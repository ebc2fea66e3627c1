/**
 * The server's sites (EndDevices) and their DERs, in memory. Hrefs are built once, at creation, from the
 * configured prefix and id style (reference §3.4: paths are examples; envoy uses `href_prefix`, Energy Queensland
 * opaque ids such as `_EQLDEV3`), so a client that parses ids out of hrefs breaks here as it would in the field.
 */
import type { XmlObject } from '../../adapters/sep2/xml.js';
import type { ResolvedSep2Options } from './options.js';

export interface Sep2Der {
  id: string;
  href: string;
  /** The last DERCapability / DERSettings / DERStatus / DERAvailability PUT, as parsed (undefined until the first PUT). */
  capability?: XmlObject | undefined;
  settings?: XmlObject | undefined;
  status?: XmlObject | undefined;
  availability?: XmlObject | undefined;
}

export interface Sep2Site {
  id: string;
  href: string;
  /** As the client (or the out-of-band registration) wrote it; compare case-insensitively. */
  lfdi: string;
  /** Decimal text, as received. */
  sfdi: string;
  deviceCategory: number;
  changedTime: number;
  enabled: boolean;
  postRate: number | undefined;
  /** Uppercased LFDI of the certificate that may see the site: its aggregator, or the device itself. */
  owner: string;
  /** Registration.dateTimeRegistered (epoch seconds). */
  registeredAt: number;
  outOfBand: boolean;
  /** The last DeviceInformation PUT (seed profile), as parsed. */
  deviceInformation?: XmlObject | undefined;
  ders: Sep2Der[];
  /** The ConnectionPoint NMI; '' when none is set (envoy answers "" then, §3.14). */
  nmi: string;
  /** Creation order (the seed profile lists in this order). */
  created: number;
}

export type NewSite = Pick<Sep2Site, 'lfdi' | 'sfdi' | 'deviceCategory' | 'changedTime' | 'enabled' | 'postRate' | 'owner' | 'outOfBand' | 'nmi'>;

/** envoy's one virtual DER per site (`PUBLIC_SITE_DER_ID = 1`, reference §3.12). */
export const ENVOY_DER_ID = '1';
/** envoy's aggregator EndDevice id (reference §3.7). */
export const VIRTUAL_EDEV_ID = '0';

/**
 * One owner's sites (the certificate that may see them), in both list orders, with the lookups POST's duplicate
 * check needs, so that no request walks every site of the server.
 */
interface OwnerSites {
  /** Creation order: the seed profile's list order. */
  created: Sep2Site[];
  /**
   * envoy's list order (§3.7): changedTime descending, then sFDI ascending (as numbers), then creation order, i.e.
   * exactly a stable sort of `created`; stored last-listed first, so that a new site, which usually lists first
   * (the newest changedTime), is appended rather than shifting every other. envoy profile only.
   */
  reversed: Sep2Site[];
  /** `reversed` read in list order. */
  envoyView: SiteList;
  /** Uppercased lFDI → its sites, in creation order. */
  byLfdi: Map<string, Sep2Site[]>;
  /** sFDI value → its sites, in creation order. */
  bySfdi: Map<bigint, Sep2Site[]>;
  /** The least changedTime among `created` (for the `a` filter). */
  minChangedTime: number;
}

/** Sites in list order, read-only (an array is one). */
export interface SiteList {
  readonly length: number;
  at(index: number): Sep2Site | undefined;
}

const EMPTY: readonly Sep2Site[] = Object.freeze([]);

function pushTo<K>(map: Map<K, Sep2Site[]>, key: K, site: Sep2Site): void {
  const list = map.get(key);
  if (list) list.push(site);
  else map.set(key, [site]);
}

function dropFrom<K>(map: Map<K, Sep2Site[]>, key: K, site: Sep2Site): void {
  const list = map.get(key);
  if (!list) return;
  const index = list.indexOf(site);
  if (index >= 0) list.splice(index, 1);
  if (list.length === 0) map.delete(key);
}

export class SiteStore {
  /** Every site in creation order (live: the handler's `state.sites`). */
  readonly sites: Sep2Site[] = [];
  #nextSite = 1;
  readonly #nextDer = new Map<Sep2Site, number>();
  readonly #byId = new Map<string, Sep2Site>();
  readonly #byOwner = new Map<string, OwnerSites>();
  readonly #sfdiValue = new WeakMap<Sep2Site, bigint>();

  constructor(private readonly options: ResolvedSep2Options) {
    const now = Math.floor(options.now() / 1000);
    for (const device of options.preRegistered) {
      this.add({ lfdi: device.lfdi, sfdi: device.sfdi, deviceCategory: 0, changedTime: now, enabled: true, postRate: undefined, owner: device.owner, outOfBand: true, nmi: device.nmi });
    }
  }

  get listHref(): string {
    return `${this.options.hrefPrefix}/edev`;
  }

  virtualHref(): string {
    return `${this.listHref}/${VIRTUAL_EDEV_ID}`;
  }

  /** Creates a site; the envoy profile gives it its DER at `der/1` at once (GET of its resources is 404 until a PUT). */
  add(site: NewSite): Sep2Site {
    const number = this.#nextSite++;
    const id = this.options.opaqueIds ? `_EQLDEV${number}` : String(number);
    const created: Sep2Site = { ...site, id, href: `${this.listHref}/${id}`, registeredAt: Math.floor(this.options.now() / 1000), ders: [], created: number };
    this.sites.push(created);
    if (this.options.profile === 'envoy') created.ders.push({ id: ENVOY_DER_ID, href: `${created.href}/der/${ENVOY_DER_ID}` });
    this.#index(created);
    return created;
  }

  byId(id: string): Sep2Site | undefined {
    return this.#byId.get(id);
  }

  remove(site: Sep2Site): void {
    const index = this.sites.indexOf(site);
    if (index < 0) return;
    this.sites.splice(index, 1);
    this.#byId.delete(site.id);
    const owner = this.#byOwner.get(site.owner);
    if (!owner) return;
    owner.created.splice(owner.created.indexOf(site), 1);
    const position = owner.reversed.lastIndexOf(site);
    if (position >= 0) owner.reversed.splice(position, 1);
    dropFrom(owner.byLfdi, site.lfdi.toUpperCase(), site);
    dropFrom(owner.bySfdi, this.#sfdi(site), site);
    if (owner.created.length === 0) this.#byOwner.delete(site.owner);
    else if (site.changedTime === owner.minChangedTime) owner.minChangedTime = owner.created.reduce((min, s) => Math.min(min, s.changedTime), Number.POSITIVE_INFINITY);
  }

  /** Whether any site belongs to this (uppercased) certificate LFDI. */
  hasOwner(owner: string): boolean {
    return this.#byOwner.has(owner);
  }

  /** The owner's sites in the profile's list order (live): creation order (seed) or envoy's order. */
  listed(owner: string): SiteList {
    const sites = this.#byOwner.get(owner);
    if (!sites) return EMPTY;
    return this.options.profile === 'seed' ? sites.created : sites.envoyView;
  }

  /** The least changedTime of the owner's sites (+∞ when it has none). */
  minChangedTime(owner: string): number {
    return this.#byOwner.get(owner)?.minChangedTime ?? Number.POSITIVE_INFINITY;
  }

  /** The owner's sites with this lFDI (any case), in creation order (do not modify). */
  withLfdi(owner: string, lfdi: string): readonly Sep2Site[] {
    return this.#byOwner.get(owner)?.byLfdi.get(lfdi.toUpperCase()) ?? EMPTY;
  }

  /** The owner's sites with this sFDI value (leading zeros aside), in creation order (do not modify). */
  withSfdi(owner: string, sfdi: string): readonly Sep2Site[] {
    return this.#byOwner.get(owner)?.bySfdi.get(BigInt(sfdi)) ?? EMPTY;
  }

  /**
   * The list order of two sites: seed creation order; envoy `changedTime` descending, then `sFDI` ascending, then
   * creation order (envoy's order made total the way a stable sort of creation order breaks its ties).
   */
  compareListed(a: Sep2Site, b: Sep2Site): number {
    if (this.options.profile === 'seed') return a.created - b.created;
    return this.#compareEnvoy(a, b) || a.created - b.created;
  }

  #compareEnvoy(a: Sep2Site, b: Sep2Site): number {
    if (a.changedTime !== b.changedTime) return b.changedTime - a.changedTime;
    const x = this.#sfdi(a);
    const y = this.#sfdi(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  #sfdi(site: Sep2Site): bigint {
    let value = this.#sfdiValue.get(site);
    if (value === undefined) {
      value = BigInt(site.sfdi);
      this.#sfdiValue.set(site, value);
    }
    return value;
  }

  #index(site: Sep2Site): void {
    this.#byId.set(site.id, site);
    let owner = this.#byOwner.get(site.owner);
    if (!owner) {
      const reversed: Sep2Site[] = [];
      const envoyView: SiteList = { get length() { return reversed.length; }, at: (index) => reversed[reversed.length - 1 - index] };
      owner = { created: [], reversed, envoyView, byLfdi: new Map(), bySfdi: new Map(), minChangedTime: Number.POSITIVE_INFINITY };
      this.#byOwner.set(site.owner, owner);
    }
    owner.created.push(site);
    if (this.options.profile === 'envoy') {
      // In list order the new site goes after every site that sorts equal to it (a stable sort keeps creation order
      // on ties); `reversed` holds first the sites listed after it, then it, then those listed before it or equal.
      const { reversed } = owner;
      let low = 0;
      let high = reversed.length;
      if (high === 0 || this.#compareEnvoy(reversed[high - 1]!, site) > 0) low = high; // it lists first: append
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (this.#compareEnvoy(reversed[mid]!, site) > 0) low = mid + 1;
        else high = mid;
      }
      reversed.splice(low, 0, site);
    }
    pushTo(owner.byLfdi, site.lfdi.toUpperCase(), site);
    pushTo(owner.bySfdi, this.#sfdi(site), site);
    owner.minChangedTime = Math.min(owner.minChangedTime, site.changedTime);
  }

  /** A new DER on a seed-profile site (POST `<DER/>` to the DERList, reference §3.12). */
  addDer(site: Sep2Site): Sep2Der {
    const number = this.#nextDer.get(site) ?? 1;
    this.#nextDer.set(site, number + 1);
    const id = this.options.opaqueIds ? `_DER${number}` : String(number);
    const der: Sep2Der = { id, href: `${site.href}/der/${id}` };
    site.ders.push(der);
    return der;
  }
}
