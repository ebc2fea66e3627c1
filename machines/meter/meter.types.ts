/**
 * Types of the LEM DCBM meter statechart: its input (the slice of config it needs), context, events it accepts,
 * and events it emits to listeners (feed, journal, command channel).
 */
import type { DstRule } from '../../src/domain/dst.js';
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

export interface MeterContext {
  config: MeterMachineInput;
  meterId: string;
  publicKeyOcmf: string;
  firmware: string;
  api: ApiVersion;
  /** The device has, or may have, an open transaction we started or found (reference §4.4). */
  needToStop: boolean;
  /** Id of that transaction. */
  currentTxId: string;
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
  lastError: string | undefined;
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
  | { type: 'TIME_SYNC_FAILED'; error: string }
  | { type: 'COMM_LOST'; error: string; reason: string | undefined }
  | { type: 'LIVE_OK' }
  | { type: 'WARMED_UP' }
  | { type: 'TRANSACTION_ENDED' }
  | { type: 'TEMPERATURE'; value: number };

export type MeterFault = 'CommunicationFault' | 'TemperatureWarning' | 'TemperatureError' | 'InitFailed';

/**
 * The EVerest error each fault maps to. The reference driver still raises `powermeter/CommunicationFault`,
 * which the interface no longer declares (reference §6.2 item 2); these are the generic errors it does declare.
 */
export const EVEREST_ERRORS: Record<MeterFault, { type: string; subType: string }> = {
  CommunicationFault: { type: 'generic/CommunicationFault', subType: 'Communication timed out' },
  InitFailed: { type: 'generic/CommunicationFault', subType: 'Initialization failed' },
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
  | { type: 'identity'; meterId: string; publicKeyOcmf: string; firmware: string; api: ApiVersion }
  | { type: 'transaction.started'; requestId: string; transactionId: string; response: TransactionStartResponse }
  | { type: 'transaction.stopped'; requestId: string | undefined; transactionId: string; response: TransactionStopResponse; final: boolean }
  | { type: 'fault.raised'; fault: MeterFault; message: string; everest: { type: string; subType: string } }
  | { type: 'fault.cleared'; fault: MeterFault; everest: { type: string; subType: string } }
  | { type: 'warning'; message: string };

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
