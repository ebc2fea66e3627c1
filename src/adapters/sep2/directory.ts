/**
 * What a fleet of registrations shares, so that the requests per site stay constant in the number of sites:
 *
 * - **Discovery**: the DeviceCapability and the server's clock offset are read once and reused by every site for
 *   the DeviceCapability's `pollRate` (default 300 s here); a failed read is not kept.
 * - **The EndDevice index**: the EndDeviceList is read once, page by page with `s` and `l`, into a map from LFDI
 *   (case-insensitive) to href; an EndDevice created by a site is added from its `Location`. A site whose view is
 *   stale (after a 409, a wait for out-of-band registration, a re-register command) asks for a fresh read, and all
 *   such requests share one: a read that started after the request satisfies it, and while one runs at most one
 *   more is queued. A failed read fails every site waiting on it (each retries by its own back-off).
 */
import type { Sep2Documents } from '../../domain/sep2-resources.js';
import type { CsipausVersion } from './xml.js';
import type { Sep2Client } from './sep2.client.js';

export interface DirectoryOptions {
  pageSize: number;
  maxPages: number;
  /** Reuse of the DeviceCapability and the clock offset when the server gives no pollRate (ms). */
  discoveryTtlMs?: number;
  /** Monotonic clock (ms), for tests. */
  now?: () => number;
}

/** The index key of an LFDI: case-insensitive, as the LFDI comparison of the registration (a list may hold odd ones). */
const keyOf = (lfdi: string): string => lfdi.trim().toUpperCase();

interface Memo<T> {
  value: Promise<T>;
  until: number;
}

export interface DirectoryStats {
  /** Full reads of the EndDeviceList, and their pages. */
  scans: number;
  pages: number;
  capabilityReads: number;
  timeReads: number;
}

export class Sep2Directory {
  readonly #client: Sep2Client;
  readonly #options: Required<Omit<DirectoryOptions, 'now'>>;
  readonly #now: () => number;
  readonly #capability = new Map<string, Memo<{ doc: Sep2Documents['DeviceCapability']; csipaus: CsipausVersion | undefined }>>();
  readonly #time = new Map<string, Memo<number>>();
  readonly #index = new Map<string, string>();
  /** EndDevices the fleet created, and when: kept over a read that started before they were created. */
  readonly #learned = new Map<string, { href: string; at: number }>();
  #indexCsipaus: CsipausVersion | undefined;
  #built = false;
  #current: { promise: Promise<void>; startedAt: number } | undefined;
  #next: Promise<void> | undefined;
  /** When the last successful read started. */
  #lastStartedAt = Number.NEGATIVE_INFINITY;
  readonly stats: DirectoryStats = { scans: 0, pages: 0, capabilityReads: 0, timeReads: 0 };

  constructor(client: Sep2Client, options: DirectoryOptions) {
    this.#client = client;
    this.#options = { pageSize: options.pageSize, maxPages: options.maxPages, discoveryTtlMs: options.discoveryTtlMs ?? 300_000 };
    this.#now = options.now ?? (() => performance.now());
  }

  /** The DeviceCapability at `href`, read once per its pollRate for the whole fleet. */
  capability(href: string): Promise<{ doc: Sep2Documents['DeviceCapability']; csipaus: CsipausVersion | undefined }> {
    return this.#memo(this.#capability, href, async () => {
      this.stats.capabilityReads += 1;
      const result = await this.#client.get('DeviceCapability', href);
      return { result, ttlMs: result.doc.pollRate !== undefined ? result.doc.pollRate * 1000 : undefined };
    });
  }

  /** Server time minus local time (seconds), read once per discovery period. */
  timeOffset(href: string, nowSeconds: () => number): Promise<number> {
    return this.#memo(this.#time, href, async () => {
      this.stats.timeReads += 1;
      const { doc } = await this.#client.get('Time', href);
      return { result: doc.currentTime - nowSeconds(), ttlMs: undefined };
    });
  }

  #memo<T>(map: Map<string, Memo<T>>, key: string, read: () => Promise<{ result: T; ttlMs: number | undefined }>): Promise<T> {
    const now = this.#now();
    const known = map.get(key);
    if (known && known.until > now) return known.value;
    const entry: Memo<T> = { value: Promise.resolve() as Promise<T>, until: Number.POSITIVE_INFINITY };
    entry.value = read().then(
      ({ result, ttlMs }) => {
        entry.until = this.#now() + (ttlMs ?? this.#options.discoveryTtlMs);
        return result;
      },
      (error: unknown) => {
        if (map.get(key) === entry) map.delete(key);
        throw error;
      },
    );
    map.set(key, entry);
    return entry.value;
  }

  /** The href of the EndDevice with this LFDI in the list at `href`, or undefined when it is not registered. */
  async find(href: string, lfdi: string, refresh: boolean): Promise<{ href: string | undefined; csipaus: CsipausVersion | undefined }> {
    const askedAt = this.#now();
    if (!this.#built) await this.#readAfter(Number.NEGATIVE_INFINITY, href);
    else if (refresh && this.#lastStartedAt < askedAt) await this.#readAfter(askedAt, href);
    return { href: this.#index.get(keyOf(lfdi)), csipaus: this.#indexCsipaus };
  }

  /** An EndDevice a site just created (its Location). */
  learn(lfdi: string, href: string): void {
    this.#index.set(keyOf(lfdi), href);
    this.#learned.set(keyOf(lfdi), { href, at: this.#now() });
  }

  /** Resolves once a read that started at or after `since` has finished. */
  #readAfter(since: number, href: string): Promise<void> {
    if (this.#current && this.#current.startedAt >= since) return this.#current.promise;
    if (!this.#current) return this.#start(href);
    if (!this.#next) {
      const after = this.#current.promise.catch(() => undefined);
      this.#next = after.then(() => {
        this.#next = undefined;
        return this.#start(href);
      });
    }
    return this.#next;
  }

  #start(href: string): Promise<void> {
    const startedAt = this.#now();
    const promise = this.#scan(href).then(
      (entries) => {
        // The list as read replaces the index (an EndDevice the server no longer lists is gone), but what sites
        // created while the read ran stays: an earlier page may have been read before it existed.
        this.#index.clear();
        for (const [lfdi, edev] of entries) this.#index.set(lfdi, edev);
        for (const [lfdi, { href: edev, at }] of this.#learned) {
          if (at >= startedAt && !this.#index.has(lfdi)) this.#index.set(lfdi, edev);
          else if (at < startedAt) this.#learned.delete(lfdi);
        }
        this.#built = true;
        this.#lastStartedAt = Math.max(this.#lastStartedAt, startedAt);
      },
    ).finally(() => {
      if (this.#current?.promise === promise) this.#current = undefined;
    });
    this.#current = { promise, startedAt };
    return promise;
  }

  async #scan(href: string): Promise<Map<string, string>> {
    this.stats.scans += 1;
    const entries = new Map<string, string>();
    let start = 0;
    for (let page = 0; page < this.#options.maxPages; page += 1) {
      const { doc, csipaus } = await this.#client.get('EndDeviceList', href, { s: start, l: this.#options.pageSize });
      this.stats.pages += 1;
      if (csipaus) this.#indexCsipaus = csipaus;
      for (const device of doc.endDevices) {
        if (device.lfdi !== undefined && device.href !== undefined) entries.set(keyOf(device.lfdi), device.href);
      }
      start += doc.endDevices.length;
      // Servers may announce more than they return: an empty page ends the read.
      if (doc.endDevices.length === 0 || start >= doc.all) break;
    }
    return entries;
  }
}
