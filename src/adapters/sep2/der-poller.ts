/**
 * Reads a site's DER programs from its 2030.5 server for the DER client chart: from the EndDevice, through the
 * FunctionSetAssignmentsList and each FunctionSetAssignments' DERProgramList, to each program's DERControlList and
 * DefaultDERControl. Hrefs are followed as the server gives them, never built; every list is read in full (paged).
 *
 * Each resource is read at its own pollRate: the resource's attribute, else that of the list (or EndDevice) that
 * linked it, else IEEE 2030.5's default of 900 s. Between its polls a resource's last answer is used. The schedule
 * is fixed (the next poll is the previous one plus the rate, skipping slots missed while the server was down), so
 * polls do not drift. A resource no longer linked is forgotten; a new or changed href is read at once.
 */
import type { DefaultDerControlDoc, DerControlDoc, DerProgramDoc, FunctionSetAssignmentsDoc, Sep2Documents } from '../../domain/sep2-resources.js';
import type { PollOutput } from '../../../machines/der-client.machine.js';
import type { ProgramSnapshot } from '../../domain/der-client.js';
import type { Sep2Client } from './sep2.client.js';

/** IEEE 2030.5's default pollRate, seconds. */
export const DEFAULT_POLL_RATE_S = 900;

type Kind = 'EndDevice' | 'FunctionSetAssignmentsList' | 'DERProgramList' | 'DERControlList' | 'DefaultDERControl';

interface Entry {
  kind: Kind;
  rateS: number;
  dueMs: number;
  value: unknown;
}

export interface DerPollerOptions {
  /** The site's EndDevice (from its registration). */
  endDeviceHref: string;
  /** The pollRate the EndDevice inherits (its list's or the DeviceCapability's), seconds. */
  endDeviceRateS?: number | undefined;
  pageSize?: number | undefined;
  /** At most this many pages per list (servers may announce more than they give). */
  maxPages?: number | undefined;
  now?: () => number;
}

export class DerPoller {
  readonly #client: Sep2Client;
  readonly #options: DerPollerOptions;
  readonly #now: () => number;
  #entries = new Map<string, Entry>();

  constructor(client: Sep2Client, options: DerPollerOptions) {
    this.#client = client;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async poll(): Promise<PollOutput> {
    const visited = new Map<string, Entry>();
    const edev = await this.#read(visited, 'EndDevice', this.#options.endDeviceHref, this.#options.endDeviceRateS ?? DEFAULT_POLL_RATE_S, async (href) => {
      const { doc } = await this.#client.get('EndDevice', href);
      return { value: doc, rateS: undefined };
    });
    const fsaLink = edev.functionSetAssignmentsListLink;
    const programs = new Map<string, ProgramSnapshot>();
    if (fsaLink) {
      const edevRate = this.#entries.get(this.#options.endDeviceHref)?.rateS ?? DEFAULT_POLL_RATE_S;
      const { items: assignments, rateS: fsaRate } = await this.#list(visited, 'FunctionSetAssignmentsList', fsaLink.href, edevRate, (d) => d.assignments);
      for (const fsa of assignments as FunctionSetAssignmentsDoc[]) {
        if (!fsa.derProgramListLink) continue;
        const { items, rateS: derpRate } = await this.#list(visited, 'DERProgramList', fsa.derProgramListLink.href, fsaRate, (d) => d.programs);
        for (const program of items as DerProgramDoc[]) {
          if (programs.has(program.mrid)) continue;
          const controls = program.controlListLink
            ? (await this.#list(visited, 'DERControlList', program.controlListLink.href, derpRate, (d) => d.controls)).items as DerControlDoc[]
            : [];
          const defaultControl = program.defaultControlLink
            ? await this.#read(visited, 'DefaultDERControl', program.defaultControlLink.href, derpRate, async (href) => ({ value: (await this.#client.get('DefaultDERControl', href)).doc, rateS: undefined }))
            : undefined;
          programs.set(program.mrid, { mrid: program.mrid, primacy: program.primacy, href: program.href, controls, defaultControl: defaultControl as DefaultDerControlDoc | undefined });
        }
      }
    }
    // What is no longer linked is forgotten.
    this.#entries = visited;
    const due = [...visited.values()].map((e) => e.dueMs);
    const now = this.#now();
    return { programs: [...programs.values()], nowMs: now, nextPollAtMs: due.length ? Math.min(...due) : now + DEFAULT_POLL_RATE_S * 1000 };
  }

  /** A resource's last answer while it is not due, else a fresh read; its next poll on the fixed schedule. */
  async #read<T>(visited: Map<string, Entry>, kind: Kind, href: string, inheritedRateS: number, fetch: (href: string) => Promise<{ value: T; rateS: number | undefined }>): Promise<T> {
    const known = visited.get(href) ?? this.#entries.get(href);
    const now = this.#now();
    if (known && known.kind === kind && now < known.dueMs) {
      visited.set(href, known);
      return known.value as T;
    }
    const { value, rateS } = await fetch(href);
    const rate = Math.max(1, rateS ?? inheritedRateS);
    let dueMs = known && known.kind === kind ? known.dueMs + rate * 1000 : now + rate * 1000;
    while (dueMs <= now) dueMs += rate * 1000;
    visited.set(href, { kind, rateS: rate, dueMs, value });
    return value;
  }

  /** A whole list, page by page; its pollRate attribute (else the inherited one) is its own and its items'. */
  async #list<K extends 'FunctionSetAssignmentsList' | 'DERProgramList' | 'DERControlList'>(
    visited: Map<string, Entry>, kind: K, href: string, inheritedRateS: number, itemsOf: (doc: Sep2Documents[K]) => unknown[],
  ): Promise<{ items: unknown[]; rateS: number }> {
    const items = await this.#read(visited, kind, href, inheritedRateS, async (at) => {
      const all: unknown[] = [];
      let rateS: number | undefined;
      const pageSize = this.#options.pageSize ?? 50;
      for (let page = 0, start = 0; page < (this.#options.maxPages ?? 100); page += 1) {
        const { doc } = await this.#client.get(kind, at, { s: start, l: pageSize });
        const list = doc as Sep2Documents[K] & { all: number; pollRate: number | undefined };
        rateS ??= list.pollRate;
        const got = itemsOf(doc);
        all.push(...got);
        start += got.length;
        if (got.length === 0 || start >= list.all) break;
      }
      return { value: all, rateS };
    });
    return { items, rateS: visited.get(href)!.rateS };
  }
}
