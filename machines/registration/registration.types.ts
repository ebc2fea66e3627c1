/**
 * Types of the 2030.5 registration statechart (reference ieee2030_5-registration §4.3): the site it registers,
 * the policy, what it has learned from the server, and the events it emits as progress.
 */
import type {
  DerCapabilityData, DerSettingsData, DerStatusData, DeviceInformationData, OutboundDocument, Sep2Documents, Sep2Kind,
} from '../../src/domain/sep2-resources.js';

export type CsipausChoice = 'auto' | '1.2' | '1.3' | 'none';
export type CsipausVersion = '1.2' | '1.3';

export interface SiteRegistration {
  /** Name for progress output (a site of an aggregator, or the charger itself). */
  name: string;
  /** The EndDevice's LFDI: the certificate's for a direct client, the configured one for aggregator sites. */
  lfdi: string;
  deviceCategory: number;
  postRate?: number | undefined;
  /** The EVSE meters (names) the site's grid limit applies to (not registration data: the DER client's). */
  meters?: string[] | undefined;
  /** The meter (name) at the site's connection point, if any. */
  siteMeter?: string | undefined;
  /** Expected `Registration.pIN` (6 digits incl. its check digit), compared exactly; none = no check. */
  pin?: number | undefined;
  nmi?: string | undefined;
  deviceInformation?: DeviceInformationData | undefined;
  derCapability: DerCapabilityData;
  derSettings?: DerSettingsData | undefined;
  derStatus?: DerStatusData | undefined;
}

export interface RegistrationPolicy {
  dcapPath: string;
  /** `l` for every list request (servers default to 1). */
  pageSize: number;
  /** Stop paging after this many pages (servers may announce more than they return). */
  maxPages: number;
  inBandRegistration: boolean;
  csipaus: CsipausChoice;
  /** POST a DER when the DERList is empty (the seed does; envoy pre-creates it). */
  createDer: boolean;
  /** Use `{edev}/di`, `{edev}/cp`, `{der}/dercap` when a server omits those links (legacy servers). */
  legacyPathFallback: boolean;
  /**
   * Attempts of one request before a transient failure (transport, 5xx, 429) ends in `failed`; undefined = never
   * give up (the controller: a charger that boots before its WAN link is up must still register). The one-shot
   * `register` command sets it.
   */
  maxAttempts?: number | undefined;
  /** Capped exponential back-off: retryBaseMs × 2^(n − 1), at most retryMaxMs, less a random share (retryJitter). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** 0..1, default 0.5: each delay is drawn in [delay × (1 − jitter), delay]. */
  retryJitter?: number | undefined;
  /** Cap of a server's own hint (`Retry-After`, `maxRetryDuration`); default 1 h. */
  retryAfterMaxMs?: number | undefined;
  /** After a permanent failure, register again after this long (default 1 h; 0 = only on command). */
  failedRetryMs?: number | undefined;
  /** Re-list interval while waiting for out-of-band registration, when the server gives no pollRate. */
  outOfBandPollMs: number;
}

export interface RegistrationInput {
  site: SiteRegistration;
  policy: RegistrationPolicy;
}

export type FailureCode =
  | 'noEndDeviceList' | 'rejected' | 'conflict' | 'pinMismatch' | 'noDer' | 'nmiLocked' | 'nmiInvalid' | 'unreachable' | 'invalidResponse'
  | 'untrusted';

export interface Failure {
  code: FailureCode;
  step: string;
  message: string;
  status?: number | undefined;
  reasonCode?: number | undefined;
  serverMessage?: string | undefined;
  /** The error's kind (`transport`, `http-status`, `schema`, `protocol`, `trust`) and, for transport, its reason. */
  kind?: string | undefined;
  reason?: string | undefined;
}

/** A step that was not done, and why (reported on the feed, in the log and in the summary). */
export interface Skip {
  step: string;
  reason: string;
}

export interface RegistrationContext {
  site: SiteRegistration;
  policy: RegistrationPolicy;
  csipaus: CsipausVersion | undefined;
  timeOffsetSeconds: number;
  timeHref: string | undefined;
  pollRateMs: number | undefined;
  endDeviceList: { href: string; all: number } | undefined;
  /** The shared EndDevice index must be read again before it is trusted (after a 409, a wait, a restart). */
  directoryStale: boolean;
  relisted: boolean;
  endDevice: Sep2Documents['EndDevice'] | undefined;
  endDeviceHref: string | undefined;
  der: Sep2Documents['DER'] | undefined;
  derHref: string | undefined;
  derListHref: string | undefined;
  deviceInformationSupported: boolean | undefined;
  attempts: number;
  retryDelayMs: number;
  lastError: Failure | undefined;
  failure: Failure | undefined;
  skipped: Skip[];
}

export type RegistrationEvent = { type: 'REGISTER' };

export type RegistrationEmitted =
  | { type: 'progress'; site: string; step: string; detail?: string }
  | { type: 'registered'; site: string; endDevice: string; der: string | undefined; csipaus: CsipausVersion | undefined; deviceInformation: boolean | undefined; skipped: Skip[] }
  | { type: 'failed'; site: string; failure: Failure; retryInMs: number | undefined }
  | { type: 'retrying'; site: string; step: string; attempt: number; delayMs: number; reason: string; error: Failure }
  | { type: 'skipped'; site: string; step: string; reason: string };

export interface GetInput {
  kind: Sep2Kind;
  href: string;
  query?: Record<string, number> | undefined;
}

export interface SendInput {
  method: 'POST' | 'PUT';
  href: string;
  document: OutboundDocument;
  csipaus: CsipausVersion | undefined;
  timeOffsetSeconds: number;
}

export interface SendOutput {
  status: number;
  location: string | undefined;
}

/** Looks the site's EndDevice up in the fleet's shared index of the EndDeviceList (read once, paged). */
export interface FindInput {
  href: string;
  lfdi: string;
  /** The index may be out of date (after a 409, a wait for out-of-band registration, a restart): read it again. */
  refresh: boolean;
}

export interface FindOutput {
  href: string | undefined;
  csipaus: CsipausVersion | undefined;
}
