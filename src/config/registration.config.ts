/**
 * Configuration of 2030.5 registration (reference ieee2030_5-registration §4.2): the server, the client
 * certificate (mutual TLS), direct-device or aggregator mode, the policy, and each site's EndDevice,
 * DeviceInformation, DER ratings and NMI. Hex-typed fields accept `"040000"`, `"0x040000"` or a number.
 */
import { TelemetryOptionsSchema } from '../adapters/telemetry/telemetry.options.js';
import * as v from 'valibot';
import type { RegistrationPolicy, SiteRegistration } from '../../machines/registration/registration.types.js';
import { normalizeLfdi } from '../domain/sep2-identity.js';
import { check, formatProblem, type Problem } from './config-problems.js';

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
/** A hex-typed value: a number, or hex text with or without 0x. */
const hexNumber = (maxBytes: number) =>
  v.pipe(
    v.union([v.pipe(v.number(), v.integer(), v.minValue(0)), v.pipe(v.string(), v.regex(/^(0x)?[0-9A-Fa-f]{1,16}$/, 'must be hex digits, e.g. "040000"'))]),
    v.transform((x) => (typeof x === 'number' ? x : Number.parseInt(x.replace(/^0x/i, ''), 16))),
    v.check((n) => n < 2 ** (8 * Math.min(maxBytes, 6)), `must fit in ${maxBytes} octets`),
  );
const watts = v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(1e12));

const DeviceInformationSchema = v.strictObject({
  functionsImplemented: v.optional(hexNumber(8), 0x1000cd),
  gps: v.optional(v.strictObject({ lat: v.pipe(v.string(), v.maxLength(32)), lon: v.pipe(v.string(), v.maxLength(32)) })),
  mfDate: v.optional(int(0, Number.MAX_SAFE_INTEGER), 0),
  mfHwVer: v.optional(v.pipe(v.string(), v.maxLength(32)), 'Unknown'),
  mfID: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff)),
  mfInfo: v.optional(v.pipe(v.string(), v.maxLength(32))),
  mfModel: v.pipe(v.string(), v.maxLength(32)),
  mfSerNum: v.pipe(v.string(), v.maxLength(32)),
  primaryPower: v.optional(int(0, 5), 1),
  secondaryPower: v.optional(int(0, 5), 0),
  swActTime: v.optional(int(0, Number.MAX_SAFE_INTEGER), 0),
  swVer: v.optional(v.pipe(v.string(), v.maxLength(32)), 'NA'),
});

const DerSchema = v.strictObject({
  /** DERType: 82 EVSE, 81 electric vehicle, 83 combined PV and storage, ... */
  type: v.optional(int(0, 255), 82),
  modesSupported: v.optional(hexNumber(4), 0x00500088),
  doeModesSupported: v.optional(hexNumber(1), 0x0f),
  rtgMaxW: watts,
  rtgMaxVA: v.optional(watts),
  rtgMaxWh: v.optional(watts),
  rtgMaxChargeRateW: v.optional(watts),
  rtgMaxDischargeRateW: v.optional(watts),
  settings: v.optional(v.strictObject({
    modesEnabled: v.optional(hexNumber(4), 0x00500088),
    setGradW: v.optional(int(0, 65535), 100),
    setMaxW: watts,
    doeModesEnabled: v.optional(hexNumber(1), 0x0f),
  })),
  status: v.optional(v.strictObject({ genConnectStatus: v.optional(hexNumber(1), 0x01) })),
});

const SiteSchema = v.strictObject({
  name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64))),
  /** Aggregator sites: the site's LFDI. Direct devices take theirs from the certificate. */
  lfdi: v.optional(v.string()),
  nmi: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(32))),
  deviceCategory: v.optional(hexNumber(4), 0x020000),
  postRate: v.optional(int(0, 0xffffffff)),
  deviceInformation: v.optional(DeviceInformationSchema),
  der: DerSchema,
  /**
   * The meters (by name) of the EVSEs this site's grid limit applies to, shared equally; default: every meter that is
   * not a site meter in device mode, none in aggregator mode.
   */
  meters: v.optional(v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.maxLength(64))),
  /** A meter (by name) at the site's connection point: with it opModImpLimW caps the site's import, not the charger's. */
  siteMeter: v.optional(v.pipe(v.string(), v.minLength(1))),
});

export const RegistrationConfigSchema = v.strictObject({
  server: v.strictObject({
    url: v.pipe(v.string(), v.url('server.url must be a URL like https://utility.example:8443')),
    dcapPath: v.optional(v.pipe(v.string(), v.startsWith('/')), '/dcap'),
    csipaus: v.optional(v.picklist(['auto', '1.2', '1.3', 'none']), 'auto'),
    timeoutMs: v.optional(int(1000, 120_000), 10_000),
  }),
  /** PEM files: the client certificate chain (device certificate first), its key, and the server's SERCA. */
  tls: v.optional(v.strictObject({ certificate: v.string(), key: v.string(), ca: v.string() })),
  mode: v.optional(v.picklist(['device', 'aggregator']), 'device'),
  /** Expected Registration pIN (6 digits including the check digit), compared exactly. */
  pin: v.optional(int(0, 999_999)),
  policy: v.optional(v.strictObject({
    pageSize: v.optional(int(1, 255), 10),
    maxPages: v.optional(int(1, 10_000), 1000),
    inBandRegistration: v.optional(v.boolean(), true),
    createDer: v.optional(v.boolean(), true),
    legacyPathFallback: v.optional(v.boolean(), false),
    /** Attempts of a request before a transient failure counts as failed; absent: the controller never gives up. */
    maxAttempts: v.optional(int(1, 1000)),
    retryBaseMs: v.optional(int(10, 600_000), 5_000),
    retryMaxMs: v.optional(int(10, 3_600_000), 300_000),
    retryJitter: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1)), 0.5),
    /** Cap of a server's Retry-After / maxRetryDuration. */
    retryAfterMaxMs: v.optional(int(0, 86_400_000), 3_600_000),
    /** After a permanent failure (400, 403, PIN mismatch, trust), register again after this long; 0 = only on command. */
    failedRetryMs: v.optional(int(0, 604_800_000), 3_600_000),
    outOfBandPollMs: v.optional(int(1000, 86_400_000), 300_000),
    concurrency: v.optional(int(1, 64), 8),
    /** Follow the utility's DER programs and controls once registered (CSIP-AUS class A + L). */
    derControl: v.optional(v.boolean(), true),
    /** Wait before polling the DER programs again after a failed poll. */
    derPollRetryMs: v.optional(int(1000, 3_600_000), 60_000),
  }), {}),
  device: v.optional(SiteSchema),
  /** MirrorUsagePoint telemetry and DER status (on by default when registration is configured). */
  telemetry: v.optional(TelemetryOptionsSchema, {}),
  sites: v.optional(v.pipe(v.array(SiteSchema), v.maxLength(100_000))),
});

export type RegistrationConfig = v.InferOutput<typeof RegistrationConfigSchema>;
type SiteConfig = v.InferOutput<typeof SiteSchema>;

/**
 * An aggregator-chosen LFDI: 40 hex digits, or fewer (e.g. the seed's `0x21352135135`), which are right-padded
 * with zeros so the distinguishing digits stay in the first 9 that make the SFDI (reference §4.6).
 */
export function siteLfdi(text: string): { lfdi: string; padded: boolean } {
  const hex = text.trim().replace(/^0x/i, '');
  if (!/^[0-9A-Fa-f]{1,40}$/.test(hex)) throw new RangeError(`LFDI "${text}" must be up to 40 hex digits`);
  return { lfdi: normalizeLfdi(hex.padEnd(40, '0')), padded: hex.length < 40 };
}

export function toSiteRegistration(site: SiteConfig, lfdi: string, pin: number | undefined, index: number): SiteRegistration {
  const der = site.der;
  return {
    name: site.name ?? `site-${index + 1}`,
    lfdi,
    deviceCategory: site.deviceCategory,
    postRate: site.postRate,
    pin,
    nmi: site.nmi,
    deviceInformation: site.deviceInformation ? { lfdi, ...site.deviceInformation } : undefined,
    derCapability: {
      modesSupported: der.modesSupported, rtgMaxW: der.rtgMaxW, rtgMaxVA: der.rtgMaxVA, rtgMaxWh: der.rtgMaxWh,
      rtgMaxChargeRateW: der.rtgMaxChargeRateW, rtgMaxDischargeRateW: der.rtgMaxDischargeRateW, type: der.type, doeModesSupported: der.doeModesSupported,
    },
    derSettings: der.settings,
    derStatus: der.status ? { genConnectStatus: der.status.genConnectStatus } : undefined,
    ...(site.meters ? { meters: site.meters } : {}),
    ...(site.siteMeter ? { siteMeter: site.siteMeter } : {}),
  };
}

export function registrationPolicy(config: RegistrationConfig): RegistrationPolicy {
  const p = config.policy;
  return {
    dcapPath: config.server.dcapPath, pageSize: p.pageSize ?? 10, maxPages: p.maxPages ?? 1000, inBandRegistration: p.inBandRegistration ?? true,
    csipaus: config.server.csipaus, createDer: p.createDer ?? true, legacyPathFallback: p.legacyPathFallback ?? false,
    maxAttempts: p.maxAttempts, retryBaseMs: p.retryBaseMs ?? 5_000, retryMaxMs: p.retryMaxMs ?? 300_000, retryJitter: p.retryJitter ?? 0.5,
    retryAfterMaxMs: p.retryAfterMaxMs ?? 3_600_000, failedRetryMs: p.failedRetryMs ?? 3_600_000, outOfBandPollMs: p.outOfBandPollMs ?? 300_000,
  };
}

/** Checks a registration section found at `path`, reporting every problem with its full path. */
export function checkRegistrationConfig(input: unknown, path: readonly (string | number)[] = []): { ok: true; value: RegistrationConfig } | { ok: false; problems: Problem[] } {
  const result = check(RegistrationConfigSchema, input, path);
  if (!result.ok) return result;
  const config = result.value;
  const problems: Problem[] = [];
  if (config.mode === 'device' && !config.device) problems.push({ path: [...path, 'device'], message: 'required in device mode' });
  if (config.mode === 'aggregator' && !config.sites?.length) problems.push({ path: [...path, 'sites'], message: 'at least one site is required in aggregator mode' });
  config.sites?.forEach((site, i) => {
    if (!site.lfdi) problems.push({ path: [...path, 'sites', i, 'lfdi'], message: 'required for aggregator-managed sites' });
    else {
      try {
        siteLfdi(site.lfdi);
      } catch (error) {
        problems.push({ path: [...path, 'sites', i, 'lfdi'], message: (error as Error).message });
      }
    }
  });
  return problems.length ? { ok: false, problems } : { ok: true, value: config };
}

export function parseRegistrationConfig(input: unknown): { ok: true; value: RegistrationConfig } | { ok: false; problems: string[] } {
  const result = checkRegistrationConfig(input);
  return result.ok ? result : { ok: false, problems: result.problems.map(formatProblem) };
}

/** The sites to register: the device itself (LFDI from its certificate) or the aggregator's configured sites. */
export function registrationSites(config: RegistrationConfig, deviceLfdi: string | undefined, warn: (line: string) => void): SiteRegistration[] {
  if (config.mode === 'device') {
    if (!deviceLfdi) throw new Error('device mode needs the client certificate (tls.certificate) or, in mock mode, device.lfdi');
    return [toSiteRegistration(config.device!, deviceLfdi, config.pin, 0)];
  }
  return (config.sites ?? []).map((site, i) => {
    const { lfdi, padded } = siteLfdi(site.lfdi!);
    if (padded) warn(`${site.name ?? `site-${i + 1}`}: LFDI ${site.lfdi} has fewer than 40 hex digits; using ${lfdi} (right-padded, so the SFDI keeps its digits)`);
    return toSiteRegistration(site, lfdi, config.pin, i);
  });
}
