/**
 * The feed as a projection: pure functions from statechart snapshots and emitted events to feed payloads, plus
 * the small state the snapshot message needs (last readings, open transactions, registration, active faults).
 * `projectSnapshot` turns one root snapshot of a machine into its new summary, the public `state` message (only
 * when the public status changed) and the `chart` message (every change of the active leaves).
 */
import type { StateValue } from 'xstate';
import type { PowermeterReading } from '../../domain/powermeter.js';
import type {
  ChartPayload, FaultInfo, FeedPayloads, GridLimitPayload, MachineSummary, OpenTransaction, RegistrationStatus, SnapshotPayload, StatePayload,
} from './feed.messages.js';
import { publicEvent, publicStatus, type MachineKind, type PublicStatus } from './public-state.js';

/** Active leaf paths of a state value: `{a: {b: 'c'}, d: 'e'}` → `['a.b.c', 'a.d.e']`. */
export function leafStates(value: StateValue, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix ? `${prefix}.${value}` : value];
  return Object.entries(value).flatMap(([key, child]) => (child === undefined ? [] : leafStates(child as StateValue, prefix ? `${prefix}.${key}` : key)));
}

/** The leaves left and entered between two state values; undefined when nothing changed. */
export function transition(before: string[], after: string[]): { from: string[]; to: string[] } | undefined {
  const from = before.filter((s) => !after.includes(s));
  const to = after.filter((s) => !before.includes(s));
  return from.length || to.length ? { from, to } : undefined;
}

/** Context fields worth showing; large or sensitive ones stay out. */
export function meterContextSummary(context: Record<string, unknown>): Record<string, unknown> {
  const pick = ['meterId', 'publicKeyOcmf', 'firmware', 'api', 'needToStop', 'currentTxId', 'warmedUp', 'ntpSaved', 'commFault', 'initAttempts', 'initFault', 'initError', 'linkError', 'commandError'];
  return Object.fromEntries(pick.filter((k) => k in context).map((k) => [k, context[k]]));
}

/** The transaction chart: what it knows the meter runs, its recovery and the job in hand (no identification data). */
export function transactionContextSummary(context: Record<string, unknown>): Record<string, unknown> {
  const job = context.job as { kind?: unknown; transactionId?: unknown; req?: { transaction_id?: unknown } } | undefined;
  const rows = context.rows as unknown[] | undefined;
  const transactionId = job?.transactionId ?? job?.req?.transaction_id;
  return { deviceOpen: context.deviceOpen, recovery: context.recovery, job: job ? { kind: job.kind, transactionId } : undefined, pendingRows: rows?.length ?? 0 };
}

export function registrationContextSummary(context: Record<string, unknown>): Record<string, unknown> {
  const site = context.site as { name?: string; lfdi?: string; nmi?: string } | undefined;
  return { site: site?.name, lfdi: site?.lfdi, nmi: site?.nmi, endDevice: context.endDeviceHref, csipaus: context.csipaus, attempts: context.attempts, failure: context.failure };
}

/**
 * XState's event type without the invoked actor's index: `xstate.done.actor.0.meter.operational.readings.reading`
 * → `xstate.done.actor.meter.operational.readings.reading` (the index depends on the order of invokes in a state).
 */
export function normalizeEventType(type: string): string {
  return type.replace(/^xstate\.(done|error)\.actor\.\d+\./, 'xstate.$1.actor.');
}

/** Keys whose values never leave the controller (credentials, an EV driver's identification). */
const SECRET_KEY = /token|secret|password|passphrase|pin$|^pin|private|authorization|cookie|identification_data|certificate|keyPem|certPem/i;
export const MAX_EVENT_PAYLOAD_CHARS = 2048;

/**
 * A JSON-safe copy of an event's data for the chart stream: secrets redacted, errors as `{name, message}`,
 * strings cut at 256 characters, arrays at 20 items, depth at 5; over MAX_EVENT_PAYLOAD_CHARS it becomes
 * `{truncated: true, preview}`.
 */
export function sanitizePayload(event: Record<string, unknown>): unknown {
  const copy = (value: unknown, depth: number): unknown => {
    if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
    if (typeof value === 'string') return value.length > 256 ? `${value.slice(0, 256)}…` : value;
    if (typeof value === 'bigint') return String(value);
    if (typeof value !== 'object') return undefined;
    if (value instanceof Error) return { name: value.name, message: value.message.slice(0, 256), ...('kind' in value ? { kind: copy((value as { kind: unknown }).kind, depth + 1) } : {}) };
    if (value instanceof Date) return value.toISOString();
    if (depth >= 5) return '…';
    if (Array.isArray(value)) return [...value.slice(0, 20).map((x) => copy(x, depth + 1)), ...(value.length > 20 ? [`… ${value.length - 20} more`] : [])];
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'function') continue;
      out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null ? '[redacted]' : copy(v, depth + 1);
    }
    return out;
  };
  const { type: _type, ...data } = event;
  const payload = copy(data, 0);
  const text = JSON.stringify(payload) ?? 'null';
  return text.length > MAX_EVENT_PAYLOAD_CHARS ? { truncated: true, preview: text.slice(0, 512) } : payload;
}

/** Who a machine is, for the messages about it. */
export interface MachineIdentity {
  kind: MachineKind;
  machine: string;
  meter?: string | undefined;
  evseId?: string | undefined;
  site?: string | undefined;
}

export interface Projected {
  summary: MachineSummary;
  /** The public status changed. */
  state: StatePayload | undefined;
  /** The active leaves changed. */
  chart: ChartPayload | undefined;
}

/**
 * One root snapshot of a machine → its summary and the messages it causes, given the summary before it (kept
 * across actors of the same machine, e.g. a re-registration). Pure.
 */
export function projectSnapshot(
  who: MachineIdentity,
  previous: MachineSummary | undefined,
  snapshot: { leaves: string[]; context: Record<string, unknown>; event: Record<string, unknown> & { type: string } },
): Projected {
  const ids = { ...(who.meter !== undefined ? { meter: who.meter } : {}), ...(who.evseId !== undefined ? { evseId: who.evseId } : {}), ...(who.site !== undefined ? { site: who.site } : {}) };
  const before = previous?.status as PublicStatus | undefined;
  const status = publicStatus(who.kind, snapshot.leaves, before) ?? before;
  const summary: MachineSummary = { machine: who.machine, ...ids, status, state: snapshot.leaves, context: snapshot.context };
  const moved = transition(previous?.state ?? [], snapshot.leaves);
  const chart: ChartPayload | undefined = moved && {
    machine: who.machine, ...ids, from: moved.from, to: moved.to, state: snapshot.leaves,
    event: { type: normalizeEventType(snapshot.event.type), payload: sanitizePayload(snapshot.event) }, context: snapshot.context,
  };
  const state: StatePayload | undefined = status !== undefined && status !== before
    ? { machine: who.machine, ...ids, from: before ?? null, to: status, event: publicEvent(who.kind, before, status) }
    : undefined;
  return { summary, state, chart };
}

/** What the snapshot is built from, kept current by the controller as events arrive. */
export class FeedState {
  readonly machines = new Map<string, MachineSummary>();
  readonly readings = new Map<string, PowermeterReading | null>();
  readonly openTransactions = new Map<string, OpenTransaction>();
  readonly registration = new Map<string, RegistrationStatus>();
  readonly faults = new Map<string, FaultInfo>();
  readonly gridLimits = new Map<string, GridLimitPayload>();
  /** The last final records this process published, so a client that (re)connects gets them (deduplicated by key). */
  readonly records: FeedPayloads['transaction.stopped'][] = [];
  static readonly RECENT_RECORDS = 100;

  rememberRecord(record: FeedPayloads['transaction.stopped']): void {
    if (record.key === null) return;
    this.records.push(record);
    if (this.records.length > FeedState.RECENT_RECORDS) this.records.shift();
  }

  snapshot(canCommand: boolean): SnapshotPayload {
    return {
      machines: [...this.machines.values()],
      readings: Object.fromEntries(this.readings),
      openTransactions: [...this.openTransactions.values()],
      registration: [...this.registration.values()],
      faults: [...this.faults.values()],
      gridLimits: Object.fromEntries(this.gridLimits),
      records: [...this.records],
      canCommand,
    };
  }

  raiseFault(info: FaultInfo): void {
    this.faults.set(`${info.source}/${info.fault}`, info);
  }

  clearFault(cleared: FeedPayloads['fault.cleared']): boolean {
    return this.faults.delete(`${cleared.source}/${cleared.fault}`);
  }
}
