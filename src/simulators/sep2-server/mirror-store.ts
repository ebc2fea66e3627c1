/**
 * The test server's metering mirror (IEEE 2030.5 §10.7), as envoy keeps it: MirrorUsagePoints per client certificate,
 * each with its MirrorMeterReading definitions (ReadingType), and every reading received, per site, in arrival order.
 * A reading posted twice for the same MirrorMeterReading and interval start is kept and marked `duplicate` (envoy
 * upserts it), so a test can tell a resend from a new reading.
 */

export interface MirrorReadingType {
  commodity?: number | undefined;
  dataQualifier?: number | undefined;
  flowDirection?: number | undefined;
  intervalLength?: number | undefined;
  kind?: number | undefined;
  phase?: number | undefined;
  powerOfTenMultiplier?: number | undefined;
  uom?: number | undefined;
}

export interface Sep2MirrorUsagePoint {
  id: string;
  href: string;
  /** Uppercased certificate LFDI of the client that created it. */
  owner: string;
  /** The EndDevice (site) id of its deviceLFDI. */
  site: string;
  mrid: string;
  description: string | undefined;
  roleFlags: number;
  serviceCategoryKind: number;
  status: number;
  deviceLfdi: string;
  /** MirrorMeterReading mRID → its description and ReadingType. */
  readings: Map<string, { description: string | undefined; type: MirrorReadingType }>;
}

export interface Sep2TelemetryReading {
  seq: number;
  /** Server clock when received, epoch ms. */
  atMs: number;
  site: string;
  mup: string;
  mupMrid: string;
  roleFlags: number;
  mrid: string;
  description: string | undefined;
  type: MirrorReadingType;
  start: number;
  duration: number;
  value: number;
  qualityFlags: number;
  /** The same MirrorMeterReading and interval start was received before. */
  duplicate: boolean;
  /** The body as posted (tests validate it against the XSDs). */
  body: string;
}

export class MirrorStore {
  readonly usagePoints: Sep2MirrorUsagePoint[] = [];
  /** Every reading received, oldest first (live). */
  readonly readings: Sep2TelemetryReading[] = [];
  /** The postRate each MirrorUsagePoint carries, seconds (CACTUS `set-comms-rate mup_post_seconds`). */
  postRate: number;
  #next = 1;
  #seq = 0;
  readonly #seen = new Set<string>();
  readonly #byId = new Map<string, Sep2MirrorUsagePoint>();
  readonly #byMrid = new Map<string, Sep2MirrorUsagePoint>();
  readonly #byOwner = new Map<string, Sep2MirrorUsagePoint[]>();

  constructor(readonly hrefPrefix: string, postRate = 60) {
    this.postRate = postRate;
  }

  get listHref(): string {
    return `${this.hrefPrefix}/mup`;
  }

  byId(id: string): Sep2MirrorUsagePoint | undefined {
    return this.#byId.get(id);
  }

  /** The owner's usage points in creation order (do not modify). */
  owned(owner: string): readonly Sep2MirrorUsagePoint[] {
    return this.#byOwner.get(owner) ?? [];
  }

  /** Creates a usage point, or returns the owner's one with the same mRID (envoy's create-or-fetch), adding readings. */
  upsert(input: Omit<Sep2MirrorUsagePoint, 'id' | 'href'>): { mup: Sep2MirrorUsagePoint; created: boolean } {
    const known = this.#byMrid.get(`${input.owner}/${input.mrid}`);
    if (known) {
      for (const [mrid, reading] of input.readings) known.readings.set(mrid, reading);
      return { mup: known, created: false };
    }
    const id = String(this.#next++);
    const mup = { ...input, id, href: `${this.listHref}/${id}` };
    this.usagePoints.push(mup);
    this.#byId.set(id, mup);
    this.#byMrid.set(`${input.owner}/${input.mrid}`, mup);
    const owned = this.#byOwner.get(input.owner);
    if (owned) owned.push(mup);
    else this.#byOwner.set(input.owner, [mup]);
    return { mup, created: true };
  }

  record(mup: Sep2MirrorUsagePoint, reading: Omit<Sep2TelemetryReading, 'seq' | 'site' | 'mup' | 'mupMrid' | 'roleFlags' | 'duplicate'>): Sep2TelemetryReading {
    const key = `${mup.id}/${reading.mrid}/${reading.start}`;
    const duplicate = this.#seen.has(key);
    this.#seen.add(key);
    const entry = { ...reading, seq: ++this.#seq, site: mup.site, mup: mup.id, mupMrid: mup.mrid, roleFlags: mup.roleFlags, duplicate };
    this.readings.push(entry);
    return entry;
  }
}
