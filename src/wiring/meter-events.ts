/**
 * One meter into the rest of the controller: its two charts (meter and transactions) created and wired. Each
 * state change and emitted event updates the feed state and is published, is counted in the metrics and logged;
 * the transaction chart journals every step before it is answered or published. The stop line carries the energy
 * and duration read from the signed record.
 */
import type { AnyEventObject } from 'xstate';
import type { FeedState } from '../adapters/feed/projection.js';
import { meterContextSummary, transactionContextSummary } from '../adapters/feed/projection.js';
import type { FeedBackend } from '../adapters/feed/feed.server.js';
import type { Journal } from '../adapters/journal/journal.js';
import type { RegistrationFleet } from '../adapters/sep2/registration.service.js';
import { createLedger, type Ledger } from '../adapters/journal/ledger.js';
import { createMeterDriver, type MeterDriver } from '../adapters/lem-dcbm/meter.driver.js';
import type { MeterConfig } from '../config/meter.config.js';
import type { ControllerMetrics } from '../adapters/metrics/metrics.js';
import { summarizeOcmf } from '../domain/ocmf-summary.js';
import type { Logger } from '../logger.js';
import type { MeterEmitted } from '../../machines/meter/meter.types.js';
import type { TransactionEmitted } from '../../machines/transaction.types.js';
import { feedInspection, type Publish } from './feed-wiring.js';

export interface MeterWiring {
  name: string;
  evseId: string;
  state: FeedState;
  publish: Publish;
  metrics: ControllerMetrics;
  log: Logger;
}

const now = (): string => new Date().toISOString();

/**
 * The inspection hook for the meter's driver: its snapshots through the projection into the feed (the public
 * `state` on a status change, `chart` on every leaf change); each leaf change is a debug line.
 */
export function meterInspection(w: MeterWiring): ReturnType<typeof feedInspection> {
  return feedInspection({ kind: 'meter', machine: `meter:${w.name}`, meter: w.name, evseId: w.evseId }, {
    state: w.state, publish: w.publish, summarize: meterContextSummary,
    onProjected: ({ chart, state }) => {
      if (chart) w.log.debug({ from: chart.from, to: chart.to, event: chart.event.type, ...(state ? { status: state.to } : {}) }, 'state');
    },
  });
}

/** Energy and duration of a stop, from its signed record; the duration falls back to the controller's start time. */
function stopFigures(event: Extract<MeterEmitted, { type: 'transaction.stopped' }>, startedAt: string | undefined): Record<string, number> {
  const record = event.response.signed_meter_value?.signed_meter_data;
  const summary = record ? summarizeOcmf(record) : undefined;
  const durationS = summary?.durationS ?? (startedAt ? Math.round((Date.now() - Date.parse(startedAt)) / 1000) : undefined);
  return { ...(summary ? { energyKWh: summary.energyKWh } : {}), ...(durationS !== undefined ? { durationS } : {}) };
}

/**
 * The meter chart's events: readings and faults into the feed state and onto the feed; commands' answers into the
 * metrics and the log (the transaction chart journals and publishes them: wireLedgerEvents).
 */
export function wireMeterEvents(w: MeterWiring & { driver: MeterDriver }): void {
  const { name, evseId, state, publish, metrics, log } = w;
  const source = `meter:${name}`;
  w.driver.actor.on('*', (emitted: AnyEventObject) => {
    const event = emitted as MeterEmitted;
    switch (event.type) {
      case 'reading':
        state.readings.set(name, event.reading);
        publish('reading', { meter: name, evseId, reading: event.reading });
        metrics.reading(name);
        log.trace({ reading: event.reading }, 'reading');
        break;
      case 'identity':
        log.info({ meterId: event.meterId, firmware: event.firmware, api: event.api, openTransaction: event.openTransaction?.transactionId }, 'meter connected');
        break;
      case 'transaction.started':
        metrics.transactionStarted(name, event.response.status);
        log.info({ transactionId: event.transactionId, status: event.response.status, error: event.response.error }, 'transaction start');
        break;
      case 'transaction.stopped': {
        const open = state.openTransactions.get(name);
        // Only a stop that worked has a charged energy; a failed one carries at most an intermediate record.
        const figures = event.response.status === 'OK' ? stopFigures(event, open?.transactionId === event.transactionId ? open.startedAt : undefined) : {};
        metrics.transactionStopped(name, event.response.status);
        log.info({ transactionId: event.transactionId, status: event.response.status, final: event.final, ...figures, error: event.response.error }, 'transaction stop');
        break;
      }
      case 'fault.raised': {
        const info = { source, fault: event.fault, message: event.message, since: now() };
        state.raiseFault(info);
        publish('fault.raised', info);
        log.warn({ fault: event.fault, everest: event.everest, message: event.message }, 'fault raised');
        break;
      }
      case 'fault.cleared':
        if (state.clearFault({ source, fault: event.fault })) publish('fault.cleared', { source, fault: event.fault });
        log.info({ fault: event.fault }, 'fault cleared');
        break;
      case 'warning':
        log.warn(event.detail ?? {}, event.message);
        break;
      default:
        break;
    }
  });
}

/**
 * The transaction chart's events: a start's journaled answer and each journaled stop record onto the feed (the
 * record with its idempotency key), the open transactions into the feed state, and its log lines.
 */
export function wireLedgerEvents(w: MeterWiring & { ledger: Ledger }): void {
  const { name, evseId, state, publish, log } = w;
  w.ledger.actor.on('*', (emitted: AnyEventObject) => {
    const event = emitted as TransactionEmitted;
    switch (event.type) {
      case 'started':
        publish('transaction.started', { meter: name, evseId, transactionId: event.transactionId, response: event.response });
        break;
      case 'record': {
        const payload = { meter: name, evseId, ...event.record };
        state.rememberRecord(payload);
        publish('transaction.stopped', payload);
        break;
      }
      case 'opened':
        state.openTransactions.set(name, { meter: name, evseId, transactionId: event.transactionId, startedAt: event.startedAt ?? now() });
        break;
      case 'closed':
        if (state.openTransactions.get(name)?.transactionId === event.transactionId) state.openTransactions.delete(name);
        break;
      case 'log':
        log[event.level](event.detail, event.message);
        break;
      default:
        break;
    }
  });
}

/** One configured meter: its driver (the meter chart) and ledger (the transaction chart), wired; started by the caller. */
export function createMeter(config: MeterConfig, w: MeterWiring & { journal: Journal; recoveryIntervalMs?: number | undefined }): MeterEntry {
  const driver = createMeterDriver(config, { inspect: meterInspection(w), observeRequest: (o) => w.metrics.meterRequest(w.name, o) });
  const ledger = createLedger({
    meter: w.name, evseId: w.evseId, meterActor: driver.actor, journal: w.journal, recoveryIntervalMs: w.recoveryIntervalMs,
    inspect: feedInspection({ kind: 'transactions', machine: `transactions:${w.name}`, meter: w.name, evseId: w.evseId }, {
      state: w.state, publish: w.publish, summarize: transactionContextSummary,
    }),
  });
  w.state.readings.set(w.name, null);
  for (const row of w.journal.transactions({ meter: w.name, states: ['open'] })) {
    w.state.openTransactions.set(w.name, { meter: w.name, evseId: w.evseId, transactionId: row.transactionId, startedAt: row.startedAt ?? row.createdAt });
  }
  wireMeterEvents({ ...w, driver });
  wireLedgerEvents({ ...w, ledger });
  return { name: w.name, evseId: w.evseId, driver, ledger };
}

export interface MeterEntry {
  name: string;
  evseId: string;
  driver: MeterDriver;
  ledger: Ledger;
}

/** The feed's commands: transaction commands to the named meter's transaction chart, registration to the fleet. */
export function commandBackend(state: FeedState, meters: ReadonlyMap<string, MeterEntry>, fleet: () => RegistrationFleet | undefined): FeedBackend {
  return {
    snapshot: (canCommand) => state.snapshot(canCommand),
    async execute(command) {
      if (command.type === 'register' || command.type === 're-register') {
        const registration = fleet();
        if (!registration) throw new Error('2030.5 registration is not configured');
        return registration.register(command.site);
      }
      const entry = command.meter !== undefined ? meters.get(command.meter) : meters.size === 1 ? [...meters.values()][0] : undefined;
      if (!entry) throw new Error(command.meter !== undefined ? `no meter named "${command.meter}"; meters: ${[...meters.keys()].join(', ')}` : `name the meter: ${[...meters.keys()].join(', ')}`);
      return command.type === 'start_transaction' ? entry.ledger.start(command.request) : entry.ledger.stop(command.transactionId);
    },
  };
}
