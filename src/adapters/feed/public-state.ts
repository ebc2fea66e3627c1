/**
 * The feed's public vocabulary: each machine's active leaf states → one public status, and a pair of statuses →
 * one public event name. Table-driven and pure, so the protocol does not follow the charts' internal structure:
 * a renamed or added state that no row matches is caught by the unit test that walks every state of every machine
 * (test/unit/public-state.test.ts), not by clients.
 *
 * A leaf row says which status the leaf claims (null: no opinion, e.g. a reading tick) and may name statuses it
 * keeps: `keep: ['unreachable']` on `connecting.**` means a meter that was unreachable stays unreachable while it
 * keeps trying, instead of flapping at every attempt. Among the claims of all active leaves (parallel regions)
 * the status listed first in the machine's `statuses` wins.
 */

export const METER_STATUSES = ['unreachable', 'connecting', 'fault', 'stopping', 'starting', 'running', 'warming-up', 'syncing', 'idle'] as const;
export const REGISTRATION_STATUSES = ['failed', 'retrying', 'pending', 'registered'] as const;
export const DER_CLIENT_STATUSES = ['unreachable', 'polling', 'following'] as const;
export const TELEMETRY_STATUSES = ['unavailable', 'backlogged', 'locating', 'reporting'] as const;
export const TRANSACTIONS_STATUSES = ['recovering', 'retry-pending', 'stopping', 'starting', 'filing', 'settled'] as const;

export type MeterStatus = (typeof METER_STATUSES)[number];
export type RegistrationPublicStatus = (typeof REGISTRATION_STATUSES)[number];
export type DerClientStatus = (typeof DER_CLIENT_STATUSES)[number];
export type TelemetryStatus = (typeof TELEMETRY_STATUSES)[number];
export type TransactionsStatus = (typeof TRANSACTIONS_STATUSES)[number];
export type PublicStatus = MeterStatus | RegistrationPublicStatus | DerClientStatus | TelemetryStatus | TransactionsStatus;
export type MachineKind = 'meter' | 'transactions' | 'registration' | 'derClient' | 'telemetry';

interface LeafRow {
  /** Leaf path below the machine's root; `*` is one segment, a trailing `**` any rest (at least one segment). */
  pattern: string;
  status: PublicStatus | null;
  /** Previous statuses this leaf keeps rather than replacing. */
  keep?: readonly PublicStatus[];
}

interface EventRow {
  /** `from→to`; either side may be `*` (`*` never matches the first status, written `start`); the first matching row wins. */
  change: string;
  event: string;
}

export interface PublicVocabulary {
  statuses: readonly PublicStatus[];
  leaves: readonly LeafRow[];
  events: readonly EventRow[];
}

const OPERATIONAL: readonly MeterStatus[] = ['fault', 'stopping', 'starting', 'running', 'warming-up', 'syncing', 'idle'];

export const VOCABULARY: Record<MachineKind, PublicVocabulary> = {
  meter: {
    statuses: METER_STATUSES,
    leaves: [
      { pattern: 'connecting.exhausted', status: 'unreachable' },
      { pattern: 'connecting.**', status: 'connecting', keep: ['unreachable'] },
      { pattern: 'operational.link.ok', status: null },
      // Transport errors: the meter does not answer (the CommunicationFault); the refresh after the next good reading is still that.
      { pattern: 'operational.link.fault', status: 'unreachable' },
      { pattern: 'operational.link.refreshingStatus', status: 'unreachable' },
      { pattern: 'operational.link.refreshingOpenTransaction', status: 'unreachable' },
      { pattern: 'operational.readings.**', status: null },
      // Three invalid answers in a row (InvalidResponse): the meter answers, but not what its API defines.
      { pattern: 'operational.answers.invalid', status: 'fault' },
      { pattern: 'operational.answers.*', status: null },
      { pattern: 'operational.warmup.warming', status: 'warming-up' },
      { pattern: 'operational.warmup.done', status: null },
      { pattern: 'operational.timeSync.syncing.**', status: 'syncing' },
      { pattern: 'operational.timeSync.*', status: null },
      { pattern: 'operational.transaction.choosing', status: 'idle' },
      { pattern: 'operational.transaction.idle', status: 'idle' },
      { pattern: 'operational.transaction.starting.**', status: 'starting' },
      { pattern: 'operational.transaction.running', status: 'running' },
      { pattern: 'operational.transaction.stopping.**', status: 'stopping' },
      { pattern: 'operational.temperature.error.raised', status: 'fault' },
      { pattern: 'operational.temperature.*.*', status: null },
    ],
    events: [
      { change: 'start→*', event: 'started' },
      { change: 'connecting→unreachable', event: 'connection.failed' },
      { change: '*→unreachable', event: 'connection.lost' },
      { change: '*→connecting', event: 'connecting' },
      ...OPERATIONAL.flatMap((to) => [{ change: `connecting→${to}`, event: 'connected' }, { change: `unreachable→${to}`, event: 'connected' }]),
      { change: '*→fault', event: 'fault.raised' },
      { change: 'fault→*', event: 'fault.cleared' },
      { change: 'warming-up→idle', event: 'warmup.done' },
      { change: '*→warming-up', event: 'warmup.started' },
      { change: 'syncing→idle', event: 'sync.done' },
      { change: '*→syncing', event: 'sync.started' },
      { change: '*→starting', event: 'start.requested' },
      { change: 'starting→running', event: 'transaction.started' },
      { change: 'starting→*', event: 'start.failed' },
      { change: '*→stopping', event: 'stop.requested' },
      { change: 'stopping→running', event: 'stop.failed' },
      { change: 'stopping→*', event: 'transaction.stopped' },
      { change: 'running→*', event: 'transaction.closed' },
      { change: '*→running', event: 'transaction.found' },
      { change: '*→idle', event: 'ready' },
    ],
  },
  // A meter's transactions through the journal (`transactions:<meter>`): commands, records found, recovery passes.
  transactions: {
    statuses: TRANSACTIONS_STATUSES,
    leaves: [
      { pattern: 'idle.choosing', status: null },
      { pattern: 'idle.settled', status: 'settled' },
      // Failed stops or rows a pass had to leave: tried again after the recovery interval.
      { pattern: 'idle.retryPending', status: 'retry-pending' },
      { pattern: 'starting.*', status: 'starting' },
      { pattern: 'stopping.*', status: 'stopping' },
      { pattern: 'filingFound.*', status: 'filing' },
      // A pass that runs again for what is still pending keeps that status: no change every interval.
      { pattern: 'recovering.*', status: 'recovering', keep: ['retry-pending'] },
    ],
    events: [
      { change: 'start→*', event: 'started' },
      { change: '*→recovering', event: 'recovery.started' },
      { change: 'recovering→settled', event: 'recovery.done' },
      { change: 'retry-pending→settled', event: 'recovery.done' },
      { change: '*→retry-pending', event: 'recovery.incomplete' },
      { change: '*→starting', event: 'start.requested' },
      { change: 'starting→*', event: 'start.answered' },
      { change: '*→stopping', event: 'stop.requested' },
      { change: 'stopping→*', event: 'stop.answered' },
      { change: '*→filing', event: 'record.found' },
      { change: 'filing→*', event: 'record.filed' },
      { change: '*→settled', event: 'settled' },
    ],
  },
  registration: {
    statuses: REGISTRATION_STATUSES,
    leaves: [
      { pattern: 'registered', status: 'registered' },
      { pattern: 'failed', status: 'failed' },
      { pattern: '*.backoff', status: 'retrying' },
      { pattern: '*.*.backoff', status: 'retrying' },
      ...['discovering', 'readingTime', 'finding', 'creating', 'readingEndDevice', 'verifying', 'puttingDeviceInformation', 'ensuringDer', 'puttingDer', 'puttingConnectionPoint']
        .map((step) => ({ pattern: `${step}.**`, status: 'pending' as const })),
      { pattern: 'awaitingOutOfBand', status: 'pending' },
    ],
    events: [
      { change: 'start→*', event: 'started' },
      { change: '*→registered', event: 'registered' },
      { change: '*→failed', event: 'registration.failed' },
      { change: '*→retrying', event: 'request.failed' },
      { change: 'retrying→pending', event: 'retry.started' },
      { change: '*→pending', event: 'registration.started' },
    ],
  },
  derClient: {
    statuses: DER_CLIENT_STATUSES,
    leaves: [
      // A poll keeps what the last one found: no status change at every poll.
      { pattern: 'polling.reading', status: 'polling', keep: ['following', 'unreachable'] },
      { pattern: 'polling.waiting', status: 'following' },
      { pattern: 'polling.unreachable', status: 'unreachable' },
      { pattern: 'scheduling.*', status: null },
      { pattern: 'responding.*', status: null },
    ],
    events: [
      { change: 'start→*', event: 'started' },
      { change: '*→unreachable', event: 'connection.lost' },
      { change: 'unreachable→following', event: 'connection.restored' },
      { change: '*→following', event: 'controls.read' },
      { change: '*→polling', event: 'polling' },
    ],
  },
  // 2030.5 telemetry (`telemetry:<site>`): mirror usage points found and readings posted, or kept in the backlog.
  telemetry: {
    statuses: TELEMETRY_STATUSES,
    leaves: [
      // Mirrors are read again from time to time: that keeps the status.
      { pattern: 'mirrors.locating', status: 'locating', keep: ['reporting', 'backlogged', 'unavailable'] },
      { pattern: 'mirrors.unavailable', status: 'unavailable' },
      { pattern: 'mirrors.ready', status: 'reporting' },
      { pattern: 'collecting.*', status: null },
      { pattern: 'sending.idle', status: null },
      { pattern: 'sending.posting', status: 'reporting', keep: ['backlogged'] },
      { pattern: 'sending.backoff', status: 'backlogged' },
      { pattern: 'reporting.*', status: null },
    ],
    events: [
      { change: 'start→*', event: 'started' },
      { change: '*→unavailable', event: 'mirrors.unavailable' },
      { change: '*→backlogged', event: 'post.failed' },
      { change: 'backlogged→reporting', event: 'backlog.sent' },
      { change: '*→reporting', event: 'mirrors.found' },
      { change: '*→locating', event: 'locating' },
    ],
  },
};

const KINDS = Object.keys(VOCABULARY) as MachineKind[];

/** `meter:left` → `meter`; undefined for a name no vocabulary covers. */
export function kindOf(machine: string): MachineKind | undefined {
  const kind = machine.split(':')[0];
  return (KINDS as string[]).includes(kind!) ? (kind as MachineKind) : undefined;
}

function matches(pattern: string, leaf: string): boolean {
  const p = pattern.split('.');
  const l = leaf.split('.');
  for (let i = 0; i < p.length; i += 1) {
    if (p[i] === '**') return i === p.length - 1 && l.length > i;
    if (i >= l.length || (p[i] !== '*' && p[i] !== l[i])) return false;
  }
  return p.length === l.length;
}

/** The row a leaf falls under (the first that matches), or undefined when the table does not know the leaf. */
export function leafRow(kind: MachineKind, leaf: string): LeafRow | undefined {
  return VOCABULARY[kind].leaves.find((row) => matches(row.pattern, leaf));
}

/**
 * The public status of a set of active leaves, given the machine's previous public status. Undefined only when no
 * active leaf claims any status (the tables give every machine at least one claiming leaf per configuration).
 */
export function publicStatus(kind: MachineKind, leaves: readonly string[], previous?: PublicStatus): PublicStatus | undefined {
  const { statuses } = VOCABULARY[kind];
  let best: PublicStatus | undefined;
  for (const leaf of leaves) {
    const row = leafRow(kind, leaf);
    if (!row || row.status === null) continue;
    const claim = previous !== undefined && row.keep?.includes(previous) ? previous : row.status;
    if (best === undefined || statuses.indexOf(claim) < statuses.indexOf(best)) best = claim;
  }
  return best;
}

/** The public event name of a status change (`from` undefined: the machine's first status): the first row that matches. */
export function publicEvent(kind: MachineKind, from: PublicStatus | undefined, to: PublicStatus): string {
  const f = from ?? 'start';
  for (const { change, event } of VOCABULARY[kind].events) {
    const [a, b] = change.split('→');
    if ((a === f || (a === '*' && f !== 'start')) && (b === to || b === '*')) return event;
  }
  return 'changed';
}
