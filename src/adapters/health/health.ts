/**
 * `/healthz`: whether the controller is doing its job, with the evidence. 200 when it is, 503 when it is not, the
 * same JSON either way: every meter's connection and active faults, every registration site's status, the
 * journal, the reasons for a 503 and the warnings that do not cause one.
 *
 * Doing its job means:
 * - every meter is connected: operational, its link up, and neither CommunicationFault nor InitFailed active (a
 *   charger whose meter cannot be read cannot bill or sign a transaction);
 * - the journal is writable: its file and directory are writable and its file system has at least 1 MiB free
 *   (nothing signed may be lost);
 * - no registration site has `failed` (a permanent refusal: a config or server-side problem a person must fix);
 * - the controller is not shutting down.
 *
 * Reported as warnings only, never a 503: a registration `pending` or `retrying` (a WAN or server outage must not
 * get a charger that charges fine restarted by systemd or Kubernetes; it keeps retrying by itself), and meter
 * temperature faults (the meter reports them while it is read; a restart cannot cool it).
 */
import { accessSync, constants, statfsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { FaultInfo, RegistrationStatus } from '../feed/feed.messages.js';
import { leafStates } from '../feed/projection.js';
import type { MeterDriver } from '../lem-dcbm/meter.driver.js';

/**
 * `connecting`: the init sequence runs (first attempts); `unreachable`: init attempts fail; `connected`: operational
 * with its link up; `lost`: operational, readings fail; `reconnecting`: readings came back, the state is re-read.
 */
export type MeterConnection = 'connecting' | 'unreachable' | 'connected' | 'lost' | 'reconnecting';

export interface MeterHealth {
  meter: string;
  evseId: string;
  connection: MeterConnection;
  /** Active leaf states of the meter chart. */
  state: string[];
  faults: { fault: string; message: string; since: string }[];
  lastError?: string | undefined;
}

export interface JournalHealth {
  file: string;
  writable: boolean;
  sizeBytes?: number | undefined;
  freeBytes?: number | undefined;
  problem?: string | undefined;
}

export interface HealthReport {
  status: 'ok' | 'unhealthy';
  /** Why it is unhealthy (empty when ok). */
  reasons: string[];
  /** What an operator should know that does not make it unhealthy. */
  warnings: string[];
  meters: MeterHealth[];
  registration: RegistrationStatus[];
  journal: JournalHealth;
}

/** Faults that mean the meter cannot be read. */
export const CONNECTION_FAULTS: readonly string[] = ['CommunicationFault', 'InitFailed'];
export const MIN_FREE_BYTES = 1024 * 1024;

export function meterConnection(leaves: readonly string[], commFault: boolean): MeterConnection {
  if (leaves.some((leaf) => leaf.startsWith('connecting.'))) return commFault || leaves.includes('connecting.exhausted') ? 'unreachable' : 'connecting';
  if (leaves.includes('operational.link.ok')) return 'connected';
  if (leaves.includes('operational.link.fault')) return 'lost';
  return 'reconnecting';
}

/** One meter's health from its actor's snapshot and the controller's active faults. */
/** Why the meter is not reachable, if it is not: the link's cause, else the last init attempt's. */
const lastErrorOf = (c: { linkError?: { message: string } | undefined; initError?: { message: string } | undefined }): string | undefined => (c.linkError ?? c.initError)?.message;

export function meterHealth(entry: { name: string; evseId: string; driver: MeterDriver }, faults: Iterable<FaultInfo>): MeterHealth {
  const snapshot = entry.driver.actor.getSnapshot();
  const state = leafStates(snapshot.value);
  const source = `meter:${entry.name}`;
  return {
    meter: entry.name, evseId: entry.evseId, connection: meterConnection(state, snapshot.context.commFault), state,
    faults: [...faults].filter((f) => f.source === source).map(({ fault, message, since }) => ({ fault, message, since })),
    ...(lastErrorOf(snapshot.context) ? { lastError: lastErrorOf(snapshot.context) } : {}),
  };
}

/** Whether the journal can take the next write; `sizeBytes` is the journal's own count. */
export function journalHealth(journal: { file: string; sizeBytes(): number }): JournalHealth {
  const { file } = journal;
  if (file === ':memory:') return { file, writable: true, sizeBytes: 0 };
  const dir = dirname(file);
  try {
    // The directory too: SQLite creates the -wal and -shm files there.
    accessSync(dir, constants.W_OK);
    accessSync(file, constants.R_OK | constants.W_OK);
  } catch (error) {
    return { file, writable: false, problem: `not writable: ${(error as Error).message}` };
  }
  let freeBytes: number | undefined;
  try {
    const fs = statfsSync(dir);
    freeBytes = fs.bavail * fs.bsize;
  } catch {
    // No file-system statistics here: the access check stands alone.
  }
  let sizeBytes: number | undefined;
  try {
    sizeBytes = journal.sizeBytes();
  } catch {
    // A racing unlink or rename: the size is unknown, which is not a health problem by itself.
  }
  if (freeBytes !== undefined && freeBytes < MIN_FREE_BYTES) return { file, writable: false, sizeBytes, freeBytes, problem: `its file system has only ${freeBytes} bytes free` };
  return { file, writable: true, sizeBytes, freeBytes };
}

/** Applies the rules of this module's header; pure. */
export function assessHealth(input: { meters: MeterHealth[]; registration: RegistrationStatus[]; journal: JournalHealth; stopping?: boolean }): HealthReport {
  const reasons: string[] = [];
  const warnings: string[] = [];
  if (input.stopping) reasons.push('the controller is shutting down');
  for (const m of input.meters) {
    const blocking = m.faults.filter((f) => CONNECTION_FAULTS.includes(f.fault));
    if (m.connection !== 'connected' || blocking.length) {
      const faults = blocking.map((f) => `${f.fault} since ${f.since}`).join(', ');
      reasons.push(`meter ${m.meter} is ${m.connection}${faults ? ` (${faults})` : ''}${m.lastError ? `: ${m.lastError}` : ''}`);
    }
    for (const f of m.faults.filter((x) => !CONNECTION_FAULTS.includes(x.fault))) warnings.push(`meter ${m.meter}: ${f.fault} since ${f.since}: ${f.message}`);
  }
  for (const r of input.registration) {
    if (r.status === 'failed') {
      reasons.push(`registration of site ${r.site} failed${r.failure ? ` (${r.failure.code}: ${r.failure.message})` : ''}${r.retryAt ? `; it registers again at ${r.retryAt}` : '; it registers again on the register command'}`);
    } else if (r.status === 'retrying') {
      warnings.push(`registration of site ${r.site} is retrying ${r.step ?? ''} (attempt ${r.attempt ?? '?'}${r.nextAttemptAt ? `, next at ${r.nextAttemptAt}` : ''})${r.lastError ? `: ${r.lastError.message}` : ''}`);
    } else if (r.status === 'pending') {
      warnings.push(`registration of site ${r.site} is pending${r.step ? ` (${r.step})` : ''}`);
    }
  }
  if (!input.journal.writable) reasons.push(`the journal ${input.journal.file} cannot take writes: ${input.journal.problem ?? 'unknown'}`);
  return { status: reasons.length ? 'unhealthy' : 'ok', reasons, warnings, meters: input.meters, registration: input.registration, journal: input.journal };
}

/** `GET /healthz`: 200 or 503 with the report as JSON. */
export function healthRoute(report: () => HealthReport): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (new URL(req.url ?? '/', 'http://controller').pathname !== '/healthz') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('GET /healthz\n');
      return true;
    }
    const body = report();
    res.writeHead(body.status === 'ok' ? 200 : 503, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' })
      .end(req.method === 'HEAD' ? undefined : `${JSON.stringify(body, null, 2)}\n`);
    return true;
  };
}
