/**
 * Prometheus metrics (prom-client, text exposition format 0.0.4) on the controller's HTTP port at `/metrics`. The
 * controller owns its Registry: nothing goes to prom-client's global default registry, so two controllers in one
 * process (the tests) or a library user's own metrics never mix.
 *
 * Counters and the latency histogram are fed by events as they happen (device requests, readings, transaction
 * answers). Gauges of state (faults, registration, connection, journal, feed) are read from their one source at
 * scrape time through `bind(...)`, so a gauge can never drift from what the feed snapshot and /healthz say.
 * Every metric is documented in the README (Metrics).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MeterRequestObservation } from '../lem-dcbm/meter.actors.js';

export interface MeterGaugeSource {
  meter: string;
  connected: boolean;
  openTransactions: number;
  stopsPendingRecovery: number;
}

/** What the state gauges read at scrape time. */
export interface MetricsSources {
  faults(): Iterable<{ source: string; fault: string }>;
  registration(): Iterable<{ site: string; status: string }>;
  meters(): Iterable<MeterGaugeSource>;
  feedClients(): number;
  feedEvicted(): number;
  journal(): { sizeBytes?: number | undefined; writable: boolean };
  healthy(): boolean;
}

export const REGISTRATION_STATES = ['pending', 'retrying', 'registered', 'failed'] as const;
/** Seconds; a LEM request normally answers in milliseconds, a timeout lands in the last finite buckets. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ControllerMetrics {
  readonly registry = new Registry();
  #sources: MetricsSources | undefined;
  readonly #requests: Counter<'meter' | 'endpoint' | 'method' | 'outcome'>;
  readonly #latency: Histogram<'meter' | 'endpoint' | 'method'>;
  readonly #readings: Counter<'meter'>;
  readonly #started: Counter<'meter' | 'status'>;
  readonly #stopped: Counter<'meter' | 'status'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'charger_meter_requests_total', help: 'Requests to the LEM DCBM meter, by endpoint, method and outcome (ok, transport, http-status, schema, protocol, trust, error).',
      labelNames: ['meter', 'endpoint', 'method', 'outcome'], registers,
    });
    this.#latency = new Histogram({
      name: 'charger_meter_request_duration_seconds', help: 'Duration of requests to the LEM DCBM meter (every outcome, timeouts included).',
      labelNames: ['meter', 'endpoint', 'method'], buckets: LATENCY_BUCKETS, registers,
    });
    this.#readings = new Counter({ name: 'charger_meter_readings_total', help: 'Readings the meter driver published (one per successful live measure).', labelNames: ['meter'], registers });
    this.#started = new Counter({ name: 'charger_transactions_started_total', help: 'Answers to transaction starts, by status (OK, or the EVerest error status).', labelNames: ['meter', 'status'], registers });
    this.#stopped = new Counter({ name: 'charger_transactions_stopped_total', help: 'Answers to transaction stops, by status (OK carries the final signed record).', labelNames: ['meter', 'status'], registers });

    const sources = (): MetricsSources | undefined => this.#sources;
    new Gauge({
      name: 'charger_faults_active', help: 'Active faults (1 while raised), by source (meter:<name>, registration:<site>) and fault.', labelNames: ['source', 'fault'], registers,
      collect() {
        this.reset();
        for (const f of sources()?.faults() ?? []) this.set({ source: f.source, fault: f.fault }, 1);
      },
    });
    new Gauge({
      name: 'charger_registration_state', help: 'IEEE 2030.5 registration state per site: 1 for the current state, 0 for the others.', labelNames: ['site', 'state'], registers,
      collect() {
        this.reset();
        for (const r of sources()?.registration() ?? []) for (const state of REGISTRATION_STATES) this.set({ site: r.site, state }, r.status === state ? 1 : 0);
      },
    });
    const perMeter = (name: string, help: string, value: (m: MeterGaugeSource) => number) => new Gauge({
      name, help, labelNames: ['meter'], registers,
      collect() {
        this.reset();
        for (const m of sources()?.meters() ?? []) this.set({ meter: m.meter }, value(m));
      },
    });
    perMeter('charger_meter_connected', 'The meter is connected: operational and its link is up (1), else 0.', (m) => (m.connected ? 1 : 0));
    perMeter('charger_transactions_open', 'Transactions open on the meter, as the controller knows them (0 or 1).', (m) => m.openTransactions);
    perMeter('charger_transactions_stops_pending_recovery', 'Stops that failed (the meter was unreachable) and wait in the journal for the recovery pass.', (m) => m.stopsPendingRecovery);
    const scalar = (name: string, help: string, value: (s: MetricsSources) => number) => new Gauge({
      name, help, registers,
      collect() {
        const s = sources();
        if (s) this.set(value(s));
      },
    });
    scalar('charger_journal_size_bytes', 'Bytes the journal takes on disk (database, write-ahead log and its index).', (s) => s.journal().sizeBytes ?? Number.NaN);
    scalar('charger_journal_writable', 'The journal file and its directory are writable and the file system has room (1), else 0.', (s) => (s.journal().writable ? 1 : 0));
    scalar('charger_feed_clients', 'WebSocket feed clients connected now.', (s) => s.feedClients());
    scalar('charger_healthy', 'What /healthz answers: 1 for 200 (doing its job), 0 for 503.', (s) => (s.healthy() ? 1 : 0));
    new Counter({
      name: 'charger_feed_clients_evicted_total', help: 'Feed clients evicted because they did not keep up (buffered bytes over the limit).', registers,
      collect() {
        const s = sources();
        if (!s) return;
        this.reset();
        this.inc(s.feedEvicted());
      },
    });
    // Process and Node.js runtime metrics (memory, CPU, event-loop delay, GC), standard names without a prefix.
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Connects the state gauges to their sources (once the controller has built them). */
  bind(sources: MetricsSources): void {
    this.#sources = sources;
  }

  meterRequest(meter: string, o: MeterRequestObservation): void {
    this.#requests.inc({ meter, endpoint: o.endpoint, method: o.method, outcome: o.outcome });
    this.#latency.observe({ meter, endpoint: o.endpoint, method: o.method }, o.seconds);
  }

  reading(meter: string): void {
    this.#readings.inc({ meter });
  }

  transactionStarted(meter: string, status: string): void {
    this.#started.inc({ meter, status });
  }

  transactionStopped(meter: string, status: string): void {
    this.#stopped.inc({ meter, status });
  }
}

/** `GET /metrics`: the registry in the Prometheus text format. */
export function metricsRoute(metrics: ControllerMetrics): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (new URL(req.url ?? '/', 'http://controller').pathname !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('GET /metrics\n');
      return true;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : text),
      (error: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics failed: ${(error as Error).message}\n`),
    );
    return true;
  };
}
