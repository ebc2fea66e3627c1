/**
 * Types of the LEM DCBM meter statechart: its input (the slice of config it needs), context, events it accepts,
 * and events it emits to listeners (feed, journal, command channel).
 */
import type { DstRule } from '../../src/domain/dst.js';
import type { ErrorInfo } from '../../src/domain/errors.js';
import type { ApiVersion } from '../../src/domain/firmware.js';
import type {
  LiveMeasure, PowermeterReading, SignedMeterValue, StartBodyConfig, TransactionReq, TransactionStartResponse, TransactionStopResponse,
} from '../../src/domain/powermeter.js';

export interface MeterMachineInput {
  name: string;
  evseId: string;
  apiVersion: 'auto' | ApiVersion;
  readingIntervalMs: number;
  warmupMs: number;
  initRetries: number;
  initRetryDelayMs: number;
  txRetries: number;
  txRetryDelayMs: number;
  timezone: string;
  /** null: write no DST rule (an empty EVerest `meter_dst`; the reference sends invalid JSON then). */
  dst: DstRule | null;
  /** NTP servers; empty `ipAddress` of server 1 selects system-time mode. */
  ntp: { ipAddress: string; port: number }[];
  /** OCMF identification type to enforce; −1 leaves the device setting alone. */
  IT: number;
  startBody: StartBodyConfig;
  temperature: { warningC: number; errorC: number; hysteresisK: number; minTimeMs: number };
}

export interface CachedOcmf {
  transactionId: string;
  value: SignedMeterValue;
}

export type MeterCommand =
  | { kind: 'start'; requestId: string; req: TransactionReq }
  | { kind: 'stop'; requestId: string; transactionId: string; recover?: boolean };

/** What the meter last reported of its transactions (status bit and current record): connecting and the link write it. */
export interface DeviceTransaction {
  open: boolean;
  /** The running transaction's id, else the last one's ('' when none). */
  transactionId: string;
  /** From the meter's record of it. */
  startedAtMs?: number | undefined;
  evseId?: string | undefined;
}

/**
 * The meter chart's context. Each field has one writer: connecting (before the regions exist) or one region of
 * operation; facts cross regions as raised events (DEVICE_TRANSACTION, TRANSACTION_CLOSED, COMM_LOST, ...).
 */
export interface MeterContext {
  config: MeterMachineInput;
  meterId: string;
  publicKeyOcmf: string;
  firmware: string;
  api: ApiVersion;
  /** Written by connecting and the link region. */
  device: DeviceTransaction;
  /** The device has, or may have, an open transaction we started or found (reference §4.4). Transaction region. */
  needToStop: boolean;
  /** Id of that transaction (transaction region). */
  currentTxId: string;
  /**
   * A command began since the link's refresh began (transaction region): the refresh's report is older than what
   * the command's own answers told, and is not applied.
   */
  commandSinceRefresh: boolean;
  /** Intermediate OCMF of the open transaction, read while it runs. */
  cachedOcmf: CachedOcmf | undefined;
  initAttempts: number;
  commandAttempts: number;
  /** A start's POST failed in a way that does not prove the meter did not act on it (lost answer, 5xx). */
  startPostUncertain: boolean;
  command: MeterCommand | undefined;
  /**
   * The transaction a stop works on, and whether its PUT has already succeeded (then only the OCMF is re-read).
   * `mustBeEnded`: the meter refused the PUT (4xx), or this is a recovery read: the record read counts only when its
   * last reading ends the transaction (the meter closed it, e.g. at a power loss); otherwise the attempt failed.
   */
  stop: { transactionId: string; putDone: boolean; mustBeEnded?: boolean } | undefined;
  warmedUp: boolean;
  ntpSaved: boolean;
  /** The running sync began inside the warm-up, so the meter may not keep it. */
  syncUnsafe: boolean;
  lastReading: PowermeterReading | undefined;
  /** Why the last init attempt failed (connecting). */
  initError: ErrorInfo | undefined;
  /** InitFailed is raised (connecting; cleared when the meter connects). */
  initFault: boolean;
  /** Why the link is down (link region). */
  linkError: ErrorInfo | undefined;
  /** Why the last command attempt failed (transaction region). */
  commandError: ErrorInfo | undefined;
  /** The communication fault is raised (reported once, cleared on recovery). */
  commFault: boolean;
  /** The EVerest error of the CommunicationFault raised, with the sub-type of its cause (cleared with the same). */
  commFaultEverest: { type: string; subType: string } | undefined;
}

export type MeterEvent =
  | { type: 'TICK' }
  | { type: 'START_TRANSACTION'; requestId: string; req: TransactionReq }
  /**
   * `recover`: the journal's recovery after a restart. A transaction the meter no longer has open is not PUT
   * again; its signed record is read by id (the meter closed it at power loss, or before a crash).
   */
  | { type: 'STOP_TRANSACTION'; requestId: string; transactionId: string; recover?: boolean }
  // raised between regions
  | { type: 'SYNC_NOW' }
  | { type: 'TIME_SYNCED' }
  | { type: 'TIME_SYNC_FAILED'; error: ErrorInfo }
  | { type: 'COMM_LOST'; error: ErrorInfo }
  | { type: 'LIVE_OK' }
  /** A reading's answer was not a valid livemeasure (not JSON, wrong types, an HTML page, empty). */
  | { type: 'ANSWER_INVALID'; error: ErrorInfo }
  /** The link's refresh begins reading the meter (for the transaction region: what it reports is as of now). */
  | { type: 'REFRESH_STARTED' }
  /** The link's refresh read the meter's transaction state (for the transaction region). */
  | { type: 'DEVICE_TRANSACTION'; open: boolean; transactionId: string }
  /** The transaction region closed this transaction (for the readings region's OCMF cache). */
  | { type: 'TRANSACTION_CLOSED'; transactionId: string }
  | { type: 'WARMED_UP' }
  | { type: 'TRANSACTION_ENDED' }
  | { type: 'TEMPERATURE'; value: number };

export type MeterFault = 'CommunicationFault' | 'TemperatureWarning' | 'TemperatureError' | 'InitFailed' | 'InvalidResponse';

/**
 * The EVerest error each fault maps to. The reference driver still raises `powermeter/CommunicationFault`,
 * which the interface no longer declares (reference §6.2 item 2); these are the generic errors it does declare.
 */
export const EVEREST_ERRORS: Record<MeterFault, { type: string; subType: string }> = {
  CommunicationFault: { type: 'generic/CommunicationFault', subType: 'Communication timed out' },
  InitFailed: { type: 'generic/CommunicationFault', subType: 'Initialization failed' },
  /** The interface's error for a device that answers, but not what its API defines (errors/generic.yaml: "has a fault"). */
  InvalidResponse: { type: 'generic/CommunicationFault', subType: 'Invalid response' },
  TemperatureWarning: { type: 'generic/VendorWarning', subType: 'TemperatureWarning' },
  TemperatureError: { type: 'generic/VendorError', subType: 'TemperatureError' },
};

/** The CommunicationFault with the sub-type that matches its cause (a refusal is not a timeout). */
export function communicationFault(reason: string | undefined): { type: string; subType: string } {
  const subType = reason === 'timeout' ? 'Communication timed out'
    : reason === 'refused' ? 'Connection refused'
      : reason === 'reset' || reason === 'handshake-reset' || reason === 'body-cut' ? 'Connection lost'
        : reason === 'dns' ? 'Host not found'
          : reason === 'unreachable' ? 'Network unreachable'
            : 'Communication failed';
  return { type: EVEREST_ERRORS.CommunicationFault.type, subType };
}

export type MeterEmitted =
  | { type: 'reading'; reading: PowermeterReading }
  /** Connected (at init and after each link refresh), with the transaction the meter has open, if any. */
  | { type: 'identity'; meterId: string; publicKeyOcmf: string; firmware: string; api: ApiVersion; openTransaction: DeviceTransaction | undefined }
  /** `cause`: why it failed, as data (the response's error text is for people). */
  | { type: 'transaction.started'; requestId: string; transactionId: string; response: TransactionStartResponse; cause?: ErrorInfo | undefined }
  | { type: 'transaction.stopped'; requestId: string | undefined; transactionId: string; response: TransactionStopResponse; final: boolean; cause?: ErrorInfo | undefined }
  | { type: 'fault.raised'; fault: MeterFault; message: string; everest: { type: string; subType: string } }
  | { type: 'fault.cleared'; fault: MeterFault; everest: { type: string; subType: string } }
  | { type: 'warning'; message: string; detail?: Record<string, unknown> | undefined };

export interface StatusInfo {
  meterId: string;
  publicKeyOcmf: string;
  firmware: string;
  transactionOpen: boolean;
}

export type TimeSetting =
  | { kind: 'utc' }
  | { kind: 'tz'; tz: string }
  | { kind: 'dst'; dst: DstRule }
  | { kind: 'ntp'; servers: { ipAddress: string; port: number }[] };

export type { LiveMeasure };
