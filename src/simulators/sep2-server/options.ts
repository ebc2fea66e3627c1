/**
 * Options of the IEEE 2030.5 / CSIP-AUS test server (reference §5.4 "Switches the test server needs").
 *
 * Two profiles (reference §1.3, §5.2, §5.3): `envoy` = Profile B, an envoy-style CSIP-AUS server (bsgip/envoy), and
 * `seed` = Profile A, the server the seed project's README describes. Every [SIM-CONFIG] item of the reference is an
 * option here; the profile only picks the defaults. Beyond the defaults, the seed profile also accepts envoy-client
 * 0.1.1's non-standard wire format with a warning per deviation (seed-compat.ts, `onWarning`); the envoy profile
 * stays strict.
 */
import { normalizeLfdi, pinWithCheckDigit, sfdiFromLfdi } from '../../domain/sep2-identity.js';

export type Sep2Profile = 'envoy' | 'seed';
/** The resources whose PUT success status is configurable (reference §3.11, §3.13, §3.14 [SIM-CONFIG]). */
export type SuccessResource = 'deviceInformation' | 'derCapability' | 'derSettings' | 'derStatus' | 'derAvailability' | 'connectionPoint';

export interface PreRegisteredDevice {
  /** 40 hex digits, any case; kept as given (envoy returns LFDIs in the case it received, reference §3.8). */
  lfdi: string;
  /** Defaults to the SFDI rule of §3.2; give one without check digit to mimic envoy's out-of-band sites (§3.2). */
  sfdi?: string;
  nmi?: string;
  /** The aggregator LFDI that may see it; default: the device's own LFDI (a direct client). */
  owner?: string;
}

/** The resources whose `pollRate` is configurable one by one (CACTUS `set-comms-rate`, docs/csip-aus-der-client.md §0). */
export const POLL_RATE_KINDS = [
  'DeviceCapability', 'EndDeviceList', 'Registration', 'FunctionSetAssignmentsList', 'DERProgramList', 'DERList', 'MirrorUsagePointList',
] as const;
export type Sep2PollRateKind = (typeof POLL_RATE_KINDS)[number];

/** A deviation from IEEE 2030.5 / CSIP-AUS that the seed profile accepted (envoy-client 0.1.1's wire format, §6.1). */
export interface Sep2Warning {
  method: string;
  /** The path as sent, without the query. */
  path: string;
  /** Names the rule broken, e.g. "EndDevice has no namespace: IEEE 2030.5 requires urn:ieee:std:2030.5:ns (accepted by the seed profile)". */
  message: string;
}

/** The default warning sink: one line on stderr per warning. */
export const printWarning = (warning: Sep2Warning): void => {
  process.stderr.write(`sep2 test server warning: ${warning.method} ${warning.path}: ${warning.message}\n`);
};

export interface Sep2ServerOptions {
  /** Profile B (envoy CSIP-AUS) or Profile A (seed README; also accepts envoy-client 0.1.1's requests, with warnings). */
  profile: 'envoy' | 'seed';
  /** Default ''; prefixes every href and Location, like envoy's `href_prefix` (reference §2.5), e.g. '/envoy-svc-static-36'. */
  hrefPrefix?: string;
  /**
   * Default '/dcap'. The path after `hrefPrefix`: the DeviceCapability is served at `hrefPrefix + dcapPath`. A
   * dcapPath that already starts with a non-empty hrefPrefix is taken as the full path (either form works).
   */
  dcapPath?: string;
  /** Default false: numeric site ids (/edev/1); true: opaque ids like '_EQLDEV1' (Energy Queensland style, §3.4). */
  opaqueIds?: boolean;
  /** The CSIP-AUS namespace the server writes and expects; default: envoy '1.2', seed null (plain 2030.5). */
  csipaus?: '1.2' | '1.3' | null;
  /** Default page size of lists when `l` is absent: default 1 (envoy, §3.7); capped at 500. */
  defaultLimit?: number;
  /** Default true; false hides `RegistrationLink` (envoy PR #231, reference §3.10). */
  registrationLink?: boolean;
  /** 5 digits before the check digit, default 11111 (→ pIN 111115 by pinWithCheckDigit, reference §3.2). */
  pin?: number;
  /** Default true; false → POST to the EndDeviceList answers 403 (out-of-band registration only, §2.7). */
  inBandRegistration?: boolean;
  /** Duplicate EndDevice POST: default envoy 'conflict' (409), seed 'location' (200 + Location of the existing one) (§3.8). */
  duplicatePolicy?: 'conflict' | 'location';
  /** LFDIs (any case) of aggregator client certificates (registered out of band, §2.5). */
  aggregators?: string[];
  /** Default true: unknown certificates are device certificates limited to their own site (envoy `allow_device_registration`). */
  allowDeviceRegistration?: boolean;
  /** Out-of-band registered devices (§2.7, §5.5 ALL-01). */
  preRegistered?: PreRegisteredDevice[];
  /** Default false (envoy `allow_nmi_updates`): a PUT of a ConnectionPoint while an NMI is set → 409 (§3.14). */
  allowNmiUpdates?: boolean;
  /** Default false; true → an NMI not matching /^[A-Z0-9]{10,11}$/ → 422 (a stand-in for the AEMO rules, §3.14). */
  nmiValidation?: boolean;
  /** Default true: validate inbound bodies with loadXsdValidators() when sep.xsd exists; invalid → 400 Error (§5.1). */
  validateXsd?: boolean;
  /** Default 60 (seconds, envoy §3.5) on the DeviceCapability, lists and Registration. */
  pollRate?: number;
  /** Addition. Per-resource pollRate (seconds), each defaulting to `pollRate`; changeable at run time (admin API). */
  pollRates?: Partial<Record<Sep2PollRateKind, number>>;
  /** PUT success codes; defaults envoy: dercap/derg/ders/dera 204, cp 201; seed: 200 for all (§3.16 [SIM-CONFIG]). */
  successStatus?: Partial<Record<SuccessResource, number>>;
  /** Addition. Default true; false → DERs created by POST (seed profile) carry no resource links (§5.2 [SIM-CONFIG]). */
  derLinks?: boolean;
  /** Addition. The server clock in epoch milliseconds (default Date.now); inject one for deterministic output. */
  now?: () => number;
  /** Addition. Seconds east of UTC in the Time resource; default 36000 (AEST, no DST) (§3.6). */
  tzOffset?: number;
  /** Addition. How many requests the log keeps (oldest dropped first); default 10000. */
  requestLogLimit?: number;
  /**
   * Addition. Called once per warning of the seed profile (each deviation from IEEE 2030.5 / CSIP-AUS it accepted,
   * also kept in the request log's `warnings`); default printWarning (stderr); null = silent. The envoy profile
   * accepts no deviations and never warns.
   */
  onWarning?: ((warning: Sep2Warning) => void) | null;
}

export interface ResolvedSep2Options {
  profile: Sep2Profile;
  hrefPrefix: string;
  /** The full DeviceCapability path, prefix included. */
  dcapHref: string;
  opaqueIds: boolean;
  csipaus: '1.2' | '1.3' | null;
  defaultLimit: number;
  registrationLink: boolean;
  /** The pIN served, check digit included. */
  pinWithCheck: number;
  inBandRegistration: boolean;
  duplicatePolicy: 'conflict' | 'location';
  /** Uppercased. */
  aggregators: string[];
  allowDeviceRegistration: boolean;
  preRegistered: Required<PreRegisteredDevice>[];
  allowNmiUpdates: boolean;
  nmiValidation: boolean;
  validateXsd: boolean;
  pollRate: number;
  /** Live: the admin API changes these while the server runs. */
  pollRates: Record<Sep2PollRateKind, number>;
  successStatus: Record<SuccessResource, number>;
  derLinks: boolean;
  now: () => number;
  tzOffset: number;
  requestLogLimit: number;
  onWarning: (warning: Sep2Warning) => void;
}

/** envoy's list cap (reference §3.7). */
export const MAX_LIMIT = 500;

const SUCCESS_DEFAULTS: Record<Sep2Profile, Record<SuccessResource, number>> = {
  // envoy: DER resources 204, ConnectionPoint 201 + Location (§3.13, §3.14); no DeviceInformation route at all.
  envoy: { deviceInformation: 200, derCapability: 204, derSettings: 204, derStatus: 204, derAvailability: 204, connectionPoint: 201 },
  // seed README: "200: OK" (§3.11, §3.14); undocumented elsewhere, so 200 throughout.
  seed: { deviceInformation: 200, derCapability: 200, derSettings: 200, derStatus: 200, derAvailability: 200, connectionPoint: 200 },
};

function path(text: string, what: string): string {
  if (text !== '' && (!text.startsWith('/') || text.endsWith('/') || /[?#\s]/.test(text))) {
    throw new RangeError(`${what} must start with "/" and not end with "/" (got "${text}")`);
  }
  return text;
}

function integer(value: number, what: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${what} must be an integer in ${min}..${max} (got ${value})`);
  return value;
}

/** Checks per-resource poll rates (UInt32 seconds) and fills the missing ones with `fallback`. */
export function resolvePollRates(input: Partial<Record<string, number>> | undefined, fallback: number): Record<Sep2PollRateKind, number> {
  for (const key of Object.keys(input ?? {})) {
    if (!(POLL_RATE_KINDS as readonly string[]).includes(key)) throw new RangeError(`pollRates.${key} is not one of ${POLL_RATE_KINDS.join(', ')}`);
  }
  return Object.fromEntries(POLL_RATE_KINDS.map((kind) => [kind, integer(input?.[kind] ?? fallback, `pollRates.${kind}`, 0, 0xffff_ffff)])) as Record<Sep2PollRateKind, number>;
}

/** Fills the defaults of the chosen profile and checks every value; throws RangeError on bad options. */
export function resolveSep2Options(input: Sep2ServerOptions): ResolvedSep2Options {
  if (input.profile !== 'envoy' && input.profile !== 'seed') throw new RangeError(`profile must be 'envoy' or 'seed' (got "${String(input.profile)}")`);
  const envoy = input.profile === 'envoy';
  const hrefPrefix = path(input.hrefPrefix ?? '', 'hrefPrefix');
  const dcapPath = path(input.dcapPath ?? '/dcap', 'dcapPath');
  if (dcapPath === '') throw new RangeError('dcapPath must not be empty');
  const dcapHref = hrefPrefix !== '' && dcapPath.startsWith(`${hrefPrefix}/`) ? dcapPath : `${hrefPrefix}${dcapPath}`;
  const successStatus = { ...SUCCESS_DEFAULTS[input.profile], ...input.successStatus };
  for (const [name, status] of Object.entries(successStatus)) integer(status, `successStatus.${name}`, 200, 299);
  const aggregators = (input.aggregators ?? []).map((lfdi) => normalizeLfdi(lfdi));
  const pollRate = integer(input.pollRate ?? 60, 'pollRate', 0, 0xffff_ffff);
  const preRegistered = (input.preRegistered ?? []).map((device) => {
    normalizeLfdi(device.lfdi);
    if (device.sfdi !== undefined && !/^\d{1,13}$/.test(device.sfdi)) throw new RangeError(`preRegistered sfdi "${device.sfdi}" must be decimal digits`);
    return {
      lfdi: device.lfdi.trim(),
      sfdi: device.sfdi ?? sfdiFromLfdi(device.lfdi),
      nmi: device.nmi ?? '',
      owner: normalizeLfdi(device.owner ?? device.lfdi),
    };
  });
  return {
    profile: input.profile,
    hrefPrefix,
    dcapHref,
    opaqueIds: input.opaqueIds ?? false,
    csipaus: input.csipaus === undefined ? (envoy ? '1.2' : null) : input.csipaus,
    defaultLimit: Math.min(integer(input.defaultLimit ?? 1, 'defaultLimit', 0, Number.MAX_SAFE_INTEGER), MAX_LIMIT),
    registrationLink: input.registrationLink ?? true,
    pinWithCheck: pinWithCheckDigit(input.pin ?? 11111),
    inBandRegistration: input.inBandRegistration ?? true,
    duplicatePolicy: input.duplicatePolicy ?? (envoy ? 'conflict' : 'location'),
    aggregators,
    allowDeviceRegistration: input.allowDeviceRegistration ?? true,
    preRegistered,
    allowNmiUpdates: input.allowNmiUpdates ?? false,
    nmiValidation: input.nmiValidation ?? false,
    validateXsd: input.validateXsd ?? true,
    pollRate,
    pollRates: resolvePollRates(input.pollRates, pollRate),
    successStatus,
    derLinks: input.derLinks ?? true,
    now: input.now ?? Date.now,
    tzOffset: integer(input.tzOffset ?? 36_000, 'tzOffset', -86_400, 86_400),
    requestLogLimit: integer(input.requestLogLimit ?? 10_000, 'requestLogLimit', 1, Number.MAX_SAFE_INTEGER),
    onWarning: input.onWarning === null ? () => undefined : input.onWarning ?? printWarning,
  };
}
