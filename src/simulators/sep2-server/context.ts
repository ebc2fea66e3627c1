/**
 * What every resource handler receives, and what it returns. Handlers are synchronous and pure in memory; they
 * throw a `Sep2Refusal` to answer with an `Error` document.
 */
import type { Sep2Client } from './access.js';
import type { DerProgramStore } from './der-programs.js';
import type { InboundContext } from './inbound.js';
import type { ResolvedSep2Options } from './options.js';
import type { SiteStore } from './store.js';

export interface RequestContext {
  options: ResolvedSep2Options;
  store: SiteStore;
  /** The sites' DER programs, controls and recorded Responses. */
  programs: DerProgramStore;
  inbound: InboundContext;
  client: Sep2Client;
  /** Upper case; HEAD is routed as GET (the transport sends no body for it). */
  method: string;
  query: URLSearchParams;
  body: string;
  nowSeconds: number;
  /** When the handler was created (epoch seconds): the virtual EndDevice's changedTime. */
  startedSeconds: number;
}

export interface Reply {
  status: number;
  /** '' for an empty body (201 / 204 answers). */
  body: string;
  location?: string | undefined;
}

export const ok = (body: string): Reply => ({ status: 200, body });

/** A PUT/POST success with the configured status; 201 carries `Location` (§3.16), others an empty body. */
export const written = (status: number, location: string): Reply => ({ status, body: '', ...(status === 201 ? { location } : {}) });
