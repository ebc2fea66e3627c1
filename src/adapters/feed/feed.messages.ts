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
  site?: string;
  /** The public status (src/adapters/feed/public-state.ts), e.g. `idle`, `running`, `unreachable`, `registered`. */
  status?: string | undefined;
  /** Active leaf states, e.g. `operational.transaction.running` (for the inspector; not a stable interface). */
  state: string[];
  context: Record<string, unknown>;
}

/**
 * A meaningful change of a machine's public status; `from` is null for a machine's first status. Statuses and
 * event names are the tables of public-state.ts; reading ticks and other internal steps send none.
 */
export interface StatePayload {
  machine: string;
  meter?: string;
  evseId?: string;
  site?: string;
  from: string | null;
  to: string;
  event: string;
}

/**
 * Every change of a machine's active leaves, only to clients subscribed to the `chart` topic (the inspector's
 * full-chart view and time travel). `event.type` is XState's with the invoked actor's index stripped;
 * `event.payload` the event's data, secrets redacted and size bounded; `context` the machine's context summary.
 */
export interface ChartPayload {
  machine: string;
  meter?: string;
  evseId?: string;
  site?: string;
  from: string[];
  to: string[];
  /** All active leaves after the change. */
  state: string[];
  event: { type: string; payload: unknown };
  context: Record<string, unknown>;
}

export const FEED_TOPICS = ['chart'] as const;
export type FeedTopic = (typeof FEED_TOPICS)[number];

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
  state: StatePayload;
  chart: ChartPayload;
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
  v.strictObject({ type: v.literal('subscribe'), requestId, topics: v.pipe(v.array(v.picklist(FEED_TOPICS)), v.minLength(1), v.maxLength(4)) }),
  v.strictObject({ type: v.literal('unsubscribe'), requestId, topics: v.pipe(v.array(v.picklist(FEED_TOPICS)), v.minLength(1), v.maxLength(4)) }),
  v.strictObject({ type: v.literal('register'), requestId, site: v.optional(v.pipe(v.string(), v.maxLength(64))) }),
  v.strictObject({ type: v.literal('re-register'), requestId, site: v.optional(v.pipe(v.string(), v.maxLength(64))) }),
]);
export type Command = v.InferOutput<typeof CommandSchema>;
export const COMMAND_TYPES = ['auth', 'get_snapshot', 'subscribe', 'unsubscribe', 'start_transaction', 'stop_transaction', 'register', 're-register'] as const;

export type { TransactionReq };
