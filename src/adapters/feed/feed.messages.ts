/**
 * The WebSocket feed protocol, version 1. Server → client messages share one envelope
 * `{v, seq, ts, type, payload}`; `seq` grows by one per message on a connection, starting with the snapshot.
 * Client → server messages are commands, each with a `requestId` answered by one `command.result`.
 * Every inbound message is validated here before anything acts on it.
 */
import * as v from 'valibot';
import { IDENTIFICATION_FLAGS, IDENTIFICATION_LEVELS, IDENTIFICATION_STATUSES } from '../../domain/powermeter.js';
import { IDENTIFICATION_TYPES } from '../../domain/ocmf.js';
import type { GridLimit } from '../../domain/der-client.js';
import type {
  PowermeterReading, TransactionReq, TransactionStartResponse, TransactionStopResponse,
} from '../../domain/powermeter.js';

export const FEED_VERSION = 1;

export interface Envelope<T extends string = string, P = unknown> {
  v: typeof FEED_VERSION;
  seq: number;
  ts: string;
  type: T;
  payload: P;
}

export interface MachineSummary {
  /** `meter:<name>` or `registration:<site>`. */
  machine: string;
  meter?: string;
  evseId?: string;
  /** Active leaf states, e.g. `operational.transaction.running`. */
  state: string[];
  context: Record<string, unknown>;
}

export interface FaultInfo {
  source: string;
  fault: string;
  message: string;
  since: string;
}

export interface OpenTransaction {
  meter: string;
  evseId: string;
  transactionId: string;
  startedAt: string;
}

export interface RegistrationStatus {
  site: string;
  /** `retrying`: a transient failure (server unreachable, 5xx, 429); the next attempt is at `nextAttemptAt`. */
  status: 'pending' | 'retrying' | 'registered' | 'failed';
  step: string | undefined;
  endDevice?: string | undefined;
  /** Retrying: the attempt count of the current request, when the next one is made, and why. */
  attempt?: number | undefined;
  nextAttemptAt?: string | undefined;
  lastError?: { message: string; kind?: string | undefined; reason?: string | undefined; status?: number | undefined } | undefined;
  failure?: { code: string; message: string; reasonCode?: number | undefined; kind?: string | undefined } | undefined;
  /** Failed: when it registers again by itself (unless a command comes first). */
  retryAt?: string | undefined;
  /** Configured steps the server offered no link for (or refused as unsupported), with the reason. */
  warnings?: { step: string; reason: string }[] | undefined;
}

/**
 * The limit the charger applies for a 2030.5 site: from the active control(s), the program's default control, or
 * nothing (`none`); powers in watts (null = not set), `chargeLimitW` the ceiling on the charger's own consumption
 * after ramping (0 while disconnected or de-energized, null when nothing limits it), shared equally among the site's
 * EVSEs; `validUntil` when the deciding control ends.
 */
export type GridLimitPayload = GridLimit;

export interface SnapshotPayload {
  machines: MachineSummary[];
  readings: Record<string, PowermeterReading | null>;
  openTransactions: OpenTransaction[];
  registration: RegistrationStatus[];
  faults: FaultInfo[];
  /** The limit in force per 2030.5 site; a site has no key while no limit is known. */
  gridLimits: Record<string, GridLimitPayload>;
  /** The last (up to 100) final signed records published since the controller started, each with its key. */
  records: FeedPayloads['transaction.stopped'][];
  /** Whether this connection may send commands. */
  canCommand: boolean;
}

/** Every server → client message type and its payload. */
export interface FeedPayloads {
  snapshot: SnapshotPayload;
  state: { machine: string; meter?: string; evseId?: string; from: string[]; to: string[]; event: string };
  reading: { meter: string; evseId: string; reading: PowermeterReading };
  'transaction.started': { meter: string; evseId: string; transactionId: string; response: TransactionStartResponse };
  /**
   * `key`: idempotency key of a final signed record (`ocmf/<meter>/<transactionId>`), null otherwise. A record is
   * published once; after a crash between storing and publishing it is published again with the same key and
   * `replayed: true`, so a consumer that has the key already drops it.
   */
  'transaction.stopped': { meter: string; evseId: string; transactionId: string; final: boolean; response: TransactionStopResponse; ocmf: string | null; key: string | null; replayed?: boolean };
  'registration.progress': { site: string; step: string; detail?: string };
  /** A configured step not done (e.g. an NMI, but no ConnectionPointLink). */
  'registration.warning': { site: string; step: string; reason: string };
  registration: RegistrationStatus;
  'grid.limit': GridLimitPayload;
  'fault.raised': FaultInfo;
  'fault.cleared': { source: string; fault: string };
  'command.result': { requestId: string; command: string; ok: boolean; result?: unknown; error?: string };
  error: { code: 'malformed' | 'invalid' | 'unknown_command' | 'unauthorized' | 'payload_too_large' | 'unknown_meter' | 'busy' | 'shutting_down'; message: string; requestId?: string };
}
export type FeedMessage = { [K in keyof FeedPayloads]: Envelope<K, FeedPayloads[K]> }[keyof FeedPayloads];

// ---- client → server ----

const requestId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
const meter = v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(32)));

const TransactionReqSchema = v.strictObject({
  evse_id: v.pipe(v.string(), v.maxLength(64)),
  transaction_id: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  identification_status: v.picklist(IDENTIFICATION_STATUSES),
  identification_type: v.picklist(IDENTIFICATION_TYPES),
  identification_flags: v.pipe(v.array(v.picklist(IDENTIFICATION_FLAGS)), v.maxLength(4)),
  identification_level: v.optional(v.picklist(IDENTIFICATION_LEVELS)),
  identification_data: v.optional(v.pipe(v.string(), v.maxLength(64))),
  tariff_text: v.optional(v.pipe(v.string(), v.maxLength(250))),
});

export const CommandSchema = v.variant('type', [
  v.strictObject({ type: v.literal('auth'), token: v.pipe(v.string(), v.maxLength(256)) }),
  v.strictObject({ type: v.literal('get_snapshot'), requestId }),
  v.strictObject({ type: v.literal('start_transaction'), requestId, meter, request: TransactionReqSchema }),
  v.strictObject({ type: v.literal('stop_transaction'), requestId, meter, transactionId: v.pipe(v.string(), v.maxLength(64)) }),
  v.strictObject({ type: v.literal('register'), requestId, site: v.optional(v.pipe(v.string(), v.maxLength(64))) }),
  v.strictObject({ type: v.literal('re-register'), requestId, site: v.optional(v.pipe(v.string(), v.maxLength(64))) }),
]);
export type Command = v.InferOutput<typeof CommandSchema>;
export const COMMAND_TYPES = ['auth', 'get_snapshot', 'start_transaction', 'stop_transaction', 'register', 're-register'] as const;

export type { TransactionReq };
