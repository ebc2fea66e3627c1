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

export class SiteStore {
  readonly sites: Sep2Site[] = [];
  #nextSite = 1;
  readonly #nextDer = new Map<Sep2Site, number>();

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
    return created;
  }

  byId(id: string): Sep2Site | undefined {
    return this.sites.find((site) => site.id === id);
  }

  remove(site: Sep2Site): void {
    const index = this.sites.indexOf(site);
    if (index >= 0) this.sites.splice(index, 1);
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
