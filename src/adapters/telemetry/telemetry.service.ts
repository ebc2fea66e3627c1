/**
 * The telemetry of a registered site on a Sep2Client: the chart (machines/telemetry.machine.ts) with its actors —
 * the mirror locator (find or create the MirrorUsagePoints, post readings), the backlog (telemetry.sqlite), the DER
 * reporter (DERStatus, DERAvailability, DERSettings) and a wall-clock alarm. An aggregator runs one per site, all
 * sharing one `Limiter`, so at most `concurrency` requests of the fleet are in flight at a time.
 */
import type { Limiter } from '../sep2/limiter.js';
import { createActor, fromCallback, fromPromise, type Actor, type ActorOptions, type EventObject } from 'xstate';
import {
  telemetryMachine, type MirrorsOutput, type PostOutput, type ReportOutput, type StoreOutput, type TelemetryInput,
} from '../../../machines/telemetry.machine.js';
import type { DerSettingsData } from '../../domain/sep2-resources.js';
import type { DerReport } from '../../domain/telemetry-status.js';
import type { ReadingTypeSpec, TelemetryReading } from '../../domain/telemetry.js';
import { Sep2HttpError, type Sep2Client } from '../sep2/sep2.client.js';
import type { CsipausVersion } from '../sep2/xml.js';
import type { BacklogStore, BacklogRow } from './backlog.store.js';
import { DerReporter } from './der-reports.js';
import { MirrorLocator, type MirrorDirectory } from './mirror-locator.js';

/** setTimeout's limit is about 24.8 days; longer waits are taken in steps. */
const MAX_ALARM_MS = 3_600_000;
/** Readings posted per invocation of the sending actor (the chart stays responsive during a long backlog). */
const POST_BATCH = 64;

/** At most `max` tasks at a time; the others wait in order. */
export interface TelemetryClientOptions {
  client: Sep2Client;
  store: BacklogStore;
  limiter: Limiter;
  /** The fleet's MirrorUsagePointList (one per client and server). */
  directory: MirrorDirectory;
  site: string;
  lfdi: string;
  endDeviceHref: string;
  pen: number;
  types: readonly ReadingTypeSpec[];
  roles: TelemetryInput['roles'];
  condition: TelemetryInput['condition'];
  settings?: (() => DerSettingsData | undefined) | undefined;
  csipaus?: CsipausVersion | undefined;
  maxIntervals: number;
  defaultPostRateS?: number | undefined;
  retryMs?: number | undefined;
  /** Wall clock, ms. */
  now?: () => number;
  /** Each reading posted (for the debug log and the post count). */
  onPost?: ((row: BacklogRow, latencyMs: number) => void) | undefined;
  /** A reading the server refused for good (4xx): dropped, not retried. */
  onDrop?: ((row: BacklogRow, error: Error) => void) | undefined;
  inspect?: ActorOptions<typeof telemetryMachine>['inspect'];
}

export type TelemetryActor = Actor<typeof telemetryMachine>;

/** A refusal that will not change by sending again (not 404: the usage point is located again; not 429). */
const refusedForGood = (error: unknown): boolean =>
  error instanceof Sep2HttpError && error.status !== undefined && error.status >= 400 && error.status < 500 && error.status !== 404 && error.status !== 429;

export function createTelemetryClient(options: TelemetryClientOptions): { actor: TelemetryActor; locator: MirrorLocator } {
  const now = options.now ?? Date.now;
  const { store, limiter, site } = options;
  let postRateS = options.defaultPostRateS ?? 300;
  const locator = new MirrorLocator(options.client, {
    directory: options.directory, lfdi: options.lfdi, pen: options.pen, types: options.types, intervalLengthS: () => postRateS, defaultPostRateS: postRateS,
  });
  const reporter = new DerReporter(options.client, { endDeviceHref: options.endDeviceHref, settings: options.settings, csipaus: options.csipaus, now });
  const machine = telemetryMachine.provide({
    actors: {
      locateMirrors: fromPromise<MirrorsOutput, { site: string; fresh: boolean }>(async ({ input }) => {
        const rates = await limiter.run(() => locator.locate(input.fresh));
        postRateS = rates.postRateS;
        return { ...rates, nowMs: now() };
      }),
      storeReadings: fromPromise<StoreOutput, { site: string; readings: TelemetryReading[]; lastEndS: number }>(async ({ input }) =>
        store.add(input.site, input.readings, input.lastEndS, options.maxIntervals)),
      postBacklog: fromPromise<PostOutput, { site: string }>(async ({ signal }) => {
        let posted = 0;
        let latencyMs: number | undefined;
        for (const row of store.oldest(site, POST_BATCH)) {
          if (signal.aborted) break;
          const endS = row.startS + row.durationS;
          try {
            await limiter.run(() => locator.post(row, endS + postRateS));
          } catch (error) {
            if (!refusedForGood(error)) throw error;
            store.remove(row.id);
            options.onDrop?.(row, error as Error);
            continue;
          }
          store.remove(row.id);
          posted += 1;
          const latency = now() - endS * 1000;
          latencyMs ??= latency;
          options.onPost?.(row, latency);
        }
        return { posted, queued: store.count(site), nowMs: now(), latencyMs };
      }),
      putReports: fromPromise<ReportOutput, { site: string; report: DerReport }>(async ({ input }) => {
        const { pollRateS } = await limiter.run(() => reporter.report(input.report));
        return { report: input.report, pollRateS, nowMs: now() };
      }),
      alarm: fromCallback<EventObject, { atMs: number; event: 'INTERVAL_END' | 'REPORT_DUE' }>(({ input, sendBack }) => {
        let timer: NodeJS.Timeout;
        const arm = (): void => {
          const wait = input.atMs - now();
          timer = wait > MAX_ALARM_MS ? setTimeout(arm, MAX_ALARM_MS) : setTimeout(() => sendBack({ type: input.event, nowMs: now() }), Math.max(0, wait));
        };
        arm();
        return () => clearTimeout(timer);
      }),
    },
  });
  const actor = createActor(machine, {
    input: {
      site, roles: options.roles, types: options.types, condition: options.condition, nowMs: now(),
      queued: store.count(site), lastEndS: store.lastEnd(site), defaultPostRateS: options.defaultPostRateS, retryMs: options.retryMs,
    },
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  return { actor, locator };
}
