/**
 * Finds or creates a site's two MirrorUsagePoints (site and DER) and posts their readings.
 *
 * - The MirrorUsagePointList comes from the DeviceCapability's MirrorUsagePointListLink (read again only when the
 *   usage points have to be located afresh, e.g. after a 404), and is read in full (paged), once for the whole fleet
 *   (`MirrorDirectory`): an aggregator's list holds every site's usage points, so each site reading it would cost
 *   O(sites²). A read younger than half the list's pollRate is shared; concurrent reads share one request.
 * - A usage point is ours when its mRID is the one we give it, or, failing that, its deviceLFDI and roleFlags are
 *   ours (a restart never creates a duplicate). One missing is POSTed with its MirrorMeterReadings' ReadingTypes, and
 *   the Location of the answer is followed (GET) for its href and postRate.
 * - The post rate is the usage point's `postRate`, else the list's `pollRate`, else `defaultPostRateS`.
 * - A reading is one MirrorMeterReading per POST (envoy refuses a MirrorMeterReadingList).
 */
import type { ReadingTypeSpec, MupRole, TelemetryReading } from '../../domain/telemetry.js';
import { meterReadingMrid, ROLE_OF, usagePointMrid } from '../../domain/telemetry.js';
import { ControllerError } from '../../domain/errors.js';
import {
  decodeMirrorListLink, decodeMirrorUsagePoint, decodeMirrorUsagePointList, encodeMirrorMeterReading, encodeMirrorUsagePoint, MirrorDecodeError,
  type MirrorUsagePointDoc,
} from '../sep2/mirror.js';
import type { Sep2Client } from '../sep2/sep2.client.js';
import { XmlError } from '../sep2/xml.js';

export interface MirrorDirectoryOptions {
  dcapPath: string;
  pageSize?: number | undefined;
  maxPages?: number | undefined;
  now?: () => number;
}

interface DirectoryView {
  listHref: string;
  atMs: number;
  pollRate: number | undefined;
  byMrid: Map<string, MirrorUsagePointDoc>;
  /** `deviceLFDI/roleFlags` → the first usage point listed. */
  byDevice: Map<string, MirrorUsagePointDoc>;
}

/** The fleet's view of the MirrorUsagePointList (one per Sep2Client and server). */
export class MirrorDirectory {
  readonly #client: Sep2Client;
  readonly #options: MirrorDirectoryOptions;
  readonly #now: () => number;
  #listHref: string | undefined;
  #view: DirectoryView | undefined;
  #reading: Promise<DirectoryView> | undefined;

  constructor(client: Sep2Client, options: MirrorDirectoryOptions) {
    this.#client = client;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The list as read recently enough (`fresh`: the DeviceCapability and the list read again, shared with others). */
  async read(fresh: boolean): Promise<DirectoryView> {
    const view = this.#view;
    const maxAgeMs = ((view?.pollRate ?? DEFAULT_LIST_POLL_S) * 1000) / 2;
    if (!fresh && view && this.#now() - view.atMs < maxAgeMs) return view;
    if (!this.#reading) {
      this.#reading = this.#readAll(fresh).finally(() => {
        this.#reading = undefined;
      });
    }
    return this.#reading;
  }

  /** A usage point a site created: known to the fleet at once. */
  add(mup: MirrorUsagePointDoc): void {
    if (!this.#view) return;
    this.#view.byMrid.set(mup.mrid, mup);
    if (mup.deviceLfdi) this.#view.byDevice.set(`${mup.deviceLfdi}/${mup.roleFlags}`, mup);
  }

  async #readAll(fresh: boolean): Promise<DirectoryView> {
    if (fresh || !this.#listHref) {
      const link = await decoded('DeviceCapability', () => this.#client.getText(this.#options.dcapPath), decodeMirrorListLink);
      if (!link.href) throw new ControllerError('protocol', 'the DeviceCapability has no MirrorUsagePointListLink: this server takes no telemetry');
      this.#listHref = link.href;
    }
    const listHref = this.#listHref;
    const byMrid = new Map<string, MirrorUsagePointDoc>();
    const byDevice = new Map<string, MirrorUsagePointDoc>();
    let pollRate: number | undefined;
    const pageSize = this.#options.pageSize ?? 100;
    for (let page = 0, start = 0; page < (this.#options.maxPages ?? 1000); page += 1) {
      const list = await decoded(`GET ${listHref}`, () => this.#client.getText(listHref, { s: start, l: pageSize }), decodeMirrorUsagePointList);
      pollRate ??= list.pollRate;
      for (const mup of list.usagePoints) {
        if (!mup.href) continue;
        if (!byMrid.has(mup.mrid)) byMrid.set(mup.mrid, mup);
        const device = `${mup.deviceLfdi}/${mup.roleFlags}`;
        if (mup.deviceLfdi && !byDevice.has(device)) byDevice.set(device, mup);
      }
      start += list.usagePoints.length;
      if (list.usagePoints.length === 0 || start >= list.all) break;
    }
    this.#view = { listHref, atMs: this.#now(), pollRate, byMrid, byDevice };
    return this.#view;
  }
}

export interface MirrorLocatorOptions {
  directory: MirrorDirectory;
  lfdi: string;
  pen: number;
  types: readonly ReadingTypeSpec[];
  /** The interval length put in the ReadingTypes when a usage point is created, seconds. */
  intervalLengthS: () => number;
  defaultPostRateS: number;
}

const ROLES: MupRole[] = ['site', 'der'];
const DESCRIPTION: Record<MupRole, string> = { site: 'Site measurement', der: 'DER measurement (EVSE)' };
const DEFAULT_LIST_POLL_S = 900;

/** Decoding failures of the mirror documents are schema errors (permanent for that answer, retried by the chart). */
async function decoded<T>(what: string, read: () => Promise<string>, decode: (xml: string) => T): Promise<T> {
  const text = await read();
  try {
    return decode(text);
  } catch (error) {
    if (error instanceof MirrorDecodeError || error instanceof XmlError) throw new ControllerError('schema', `${what}: ${error.message}`);
    throw error;
  }
}

/** One site's two usage points. */
export class MirrorLocator {
  readonly #client: Sep2Client;
  readonly #options: MirrorLocatorOptions;
  readonly #hrefs = new Map<MupRole, string>();
  readonly #typeByKey: Map<string, ReadingTypeSpec>;

  constructor(client: Sep2Client, options: MirrorLocatorOptions) {
    this.#client = client;
    this.#options = options;
    this.#typeByKey = new Map(options.types.map((t) => [t.key, t]));
  }

  mrid(role: MupRole): string {
    return usagePointMrid(this.#options.lfdi, role, this.#options.pen);
  }

  href(role: MupRole): string | undefined {
    return this.#hrefs.get(role);
  }

  /** Finds the usage points in the list (read afresh when `fresh`), creates what is missing; answers the rates. */
  async locate(fresh: boolean): Promise<{ postRateS: number; listPollRateS: number }> {
    if (fresh) this.#hrefs.clear();
    const view = await this.#options.directory.read(fresh);
    const lfdi = this.#options.lfdi.toUpperCase();
    const found = new Map<MupRole, MirrorUsagePointDoc>();
    for (const role of ROLES) {
      const mine = view.byMrid.get(this.mrid(role)) ?? view.byDevice.get(`${lfdi}/${ROLE_OF[role]}`);
      if (mine) found.set(role, mine);
    }
    for (const role of ROLES) {
      if (found.has(role)) continue;
      const readings = this.#options.types.filter((t) => t.role === role).map((type) => ({ mrid: meterReadingMrid(lfdi, type, this.#options.pen), type }));
      const body = encodeMirrorUsagePoint({ mrid: this.mrid(role), description: DESCRIPTION[role], roleFlags: ROLE_OF[role], lfdi, readings, intervalLengthS: this.#options.intervalLengthS() });
      const { location } = await this.#client.post(view.listHref, body);
      if (!location) throw new ControllerError('protocol', `POST ${view.listHref} (MirrorUsagePoint) answered without a Location`);
      const created = { ...await decoded(`GET ${location}`, () => this.#client.getText(location), decodeMirrorUsagePoint), href: location };
      this.#options.directory.add(created);
      found.set(role, created);
    }
    for (const [role, mup] of found) this.#hrefs.set(role, this.#client.resolve(mup.href!));
    const postRate = found.get('der')?.postRate ?? found.get('site')?.postRate ?? view.pollRate ?? this.#options.defaultPostRateS;
    return { postRateS: Math.max(1, postRate), listPollRateS: Math.max(1, view.pollRate ?? DEFAULT_LIST_POLL_S) };
  }

  /** POSTs one reading to its usage point. */
  async post(reading: TelemetryReading, nextUpdateS: number | undefined): Promise<void> {
    const href = this.#hrefs.get(reading.role);
    const type = this.#typeByKey.get(reading.type);
    if (!href) throw new ControllerError('protocol', `the ${reading.role} MirrorUsagePoint is not known yet`);
    if (!type) throw new ControllerError('protocol', `reading type ${reading.type} is not configured`);
    await this.#client.post(href, encodeMirrorMeterReading({
      mrid: meterReadingMrid(this.#options.lfdi, type, this.#options.pen), description: type.description,
      startS: reading.startS, durationS: reading.durationS, value: reading.value, qualityFlags: reading.qualityFlags, nextUpdateS,
    }));
  }
}
