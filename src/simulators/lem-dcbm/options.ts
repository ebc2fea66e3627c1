/**
 * Simulator options. Where the real device's answer is undocumented (reference [SIM-CONFIG] items), the
 * behaviour is an option, with the default documented here and in the README.
 */
import type { SimClock } from './clock.js';
import { DEFAULT_CAPACITY, DEFAULT_SEARCH_DEPTH } from './transaction-store.js';

export type RejectionKind =
  | 'badRequest' // malformed JSON or a field outside the device limits
  | 'alreadyRunning' // a start while a transaction runs
  | 'preconditionFailed' // a start while time sync is invalid, the link is down or an error is active
  | 'unknownTransaction' // stop or read of an id the device does not find
  | 'notRunning' // a stop for a transaction that has already ended
  | 'earlyStop' // a stop within the 2-minute minimum duration, when earlyStop is 'reject'
  | 'notFound'
  | 'methodNotAllowed';

export interface Rejection {
  status: number;
  /** Raw body; when absent the simulator answers `{"error": <kind>, "message": <text>}`. */
  body?: string;
}

export const DEFAULT_REJECTIONS: Record<RejectionKind, Rejection> = {
  badRequest: { status: 400 },
  alreadyRunning: { status: 409 },
  preconditionFailed: { status: 403 },
  unknownTransaction: { status: 404 },
  notRunning: { status: 409 },
  earlyStop: { status: 403 },
  notFound: { status: 404 },
  methodNotAllowed: { status: 405 },
};

export interface MeterSimulatorOptions {
  /** Digits only, like real meters (reference §3.2). */
  meterId: string;
  applicationFirmwareVersion: string;
  legalFirmwareVersion: string;
  sensorFirmwareVersion: string;
  /** Which routes exist: `auto` serves /v2 when the firmware version says v2. */
  api: 'auto' | 'v1' | 'v2';
  /** Serve HTTPS (same port) from the start, as if `http.tls_on` had been set. */
  tls: boolean;
  /** TLS key and certificate; generated (RSA of `tlsKeyBits`) when absent. */
  tlsKeyPem?: string | undefined;
  tlsCertPem?: string | undefined;
  tlsKeyBits: number;
  /** The meter's P-256 signing key (PKCS#8 PEM); generated when absent. */
  signingKeyPem?: string | undefined;
  /** Whether the device clock is valid at start (a deployed meter usually is; a new one is not). */
  timeSynced: boolean;
  timeValidityMs: number;
  /** Settings written this soon after boot may be lost at the next power cycle (COMMPROT §4). */
  bootSettleMs: number;
  earlyWritesLostOnReboot: boolean;
  minTransactionMs: number;
  earlyStop: 'accept' | 'reject';
  /** A stop for an ended transaction: reject it, or answer 200 with the stored record again. */
  stopNotRunning: 'reject' | 'record';
  /** Whether a power cycle closes a running transaction (otherwise it is still open after the reboot). */
  closeTransactionOnPowerLoss: boolean;
  /** During a transaction, time writes always get `result: 0`; with 'all' every settings write does. */
  settingsLockedDuringTransaction: 'time' | 'all';
  /**
   * Answer to a settings body that is not JSON: HTTP 400, or 200 with `result: 0`. A JSON body of an unknown
   * shape or with values out of range always gets 200 with `result: 0` and an `error` text.
   */
  malformedSettings: 'http400' | 'result0';
  /** Name of the storage slot field in the start response (not published by LEM). */
  slotField: string;
  /** livemeasure `timestamp`: local time without zone (fixture style) or with its offset. */
  livemeasureTimestamp: 'naive' | 'offset';
  /** NTP servers answer (when NTP is configured and active). */
  ntpReachable: boolean;
  capacity: number;
  searchDepth: number;
  /** Logbook events after which `logbookIsFull` latches (real device ≈ 40 000). */
  logbookCapacity: number;
  chargePowerKw: number;
  chargeVoltageV: number;
  energyImportKWh: number;
  energyExportKWh: number;
  seed: number;
  /** OCMF identification level and flags written into records (the start request does not carry them). */
  identificationLevel: string;
  identificationFlags: string[];
  rejections: Record<RejectionKind, Rejection>;
  requestLogLimit: number;
  clock?: SimClock | undefined;
}

export const DEFAULT_OPTIONS: MeterSimulatorOptions = {
  meterId: '1211751603',
  applicationFirmwareVersion: '0.2.4.0',
  legalFirmwareVersion: '0.2.0.0',
  sensorFirmwareVersion: '0.0.8.0',
  api: 'auto',
  tls: false,
  tlsKeyBits: 1024,
  timeSynced: true,
  timeValidityMs: 48 * 3600_000,
  bootSettleMs: 120_000,
  earlyWritesLostOnReboot: true,
  minTransactionMs: 120_000,
  earlyStop: 'accept',
  stopNotRunning: 'reject',
  closeTransactionOnPowerLoss: true,
  settingsLockedDuringTransaction: 'time',
  malformedSettings: 'http400',
  slotField: 'transactionIndex',
  livemeasureTimestamp: 'naive',
  ntpReachable: true,
  capacity: DEFAULT_CAPACITY,
  searchDepth: DEFAULT_SEARCH_DEPTH,
  logbookCapacity: 40_000,
  chargePowerKw: 50,
  chargeVoltageV: 400,
  energyImportKWh: 188.977,
  energyExportKWh: 4.405,
  seed: 1,
  identificationLevel: 'HEARSAY',
  identificationFlags: ['RFID_NONE', 'OCPP_AUTH_TLS', 'ISO15118_NONE', 'PLMN_NONE'],
  rejections: DEFAULT_REJECTIONS,
  requestLogLimit: 10_000,
};

export type MeterSimulatorInput = Partial<Omit<MeterSimulatorOptions, 'rejections'>> & {
  rejections?: Partial<Record<RejectionKind, Rejection>>;
};

export function resolveOptions(input: MeterSimulatorInput = {}): MeterSimulatorOptions {
  const options = { ...DEFAULT_OPTIONS, ...input, rejections: { ...DEFAULT_REJECTIONS, ...input.rejections } };
  if (!/^\d{1,20}$/.test(options.meterId)) throw new RangeError(`meterId must be digits, got "${options.meterId}"`);
  return options;
}
