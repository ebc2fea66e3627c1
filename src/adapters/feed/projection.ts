/**
 * The feed as a projection: pure functions from statechart snapshots and emitted events to feed payloads, plus
 * the small state the snapshot message needs (last readings, open transactions, registration, active faults).
 */
import type { StateValue } from 'xstate';
import type { PowermeterReading } from '../../domain/powermeter.js';
import type { FaultInfo, FeedPayloads, GridLimitPayload, MachineSummary, OpenTransaction, RegistrationStatus, SnapshotPayload } from './feed.messages.js';

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
  const pick = ['meterId', 'publicKeyOcmf', 'firmware', 'api', 'needToStop', 'currentTxId', 'warmedUp', 'ntpSaved', 'commFault', 'lastError', 'initAttempts'];
  return Object.fromEntries(pick.filter((k) => k in context).map((k) => [k, context[k]]));
}

export function registrationContextSummary(context: Record<string, unknown>): Record<string, unknown> {
  const site = context.site as { name?: string; lfdi?: string; nmi?: string } | undefined;
  return { site: site?.name, lfdi: site?.lfdi, nmi: site?.nmi, endDevice: context.endDeviceHref, csipaus: context.csipaus, attempts: context.attempts, failure: context.failure };
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
