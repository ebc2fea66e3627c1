/**
 * One meter's events into the rest of the controller: each state change and emitted event of the meter chart
 * updates the feed state and is published, reaches the ledger (journal) where it settles a transaction, is
 * counted in the metrics and logged. The stop line carries the energy and duration read from the signed record.
 */
import type { AnyEventObject } from 'xstate';
import type { FeedState } from '../adapters/feed/projection.js';
import { meterContextSummary } from '../adapters/feed/projection.js';
import type { MeterLedger } from '../adapters/journal/ledger.js';
import type { MeterDriver } from '../adapters/lem-dcbm/meter.driver.js';
import type { ControllerMetrics } from '../adapters/metrics/metrics.js';
import { summarizeOcmf } from '../domain/ocmf-summary.js';
import type { Logger } from '../logger.js';
import type { MeterEmitted } from '../../machines/meter/meter.types.js';
import { transitions, type Publish } from './feed-wiring.js';

export interface MeterWiring {
  name: string;
  evseId: string;
  state: FeedState;
  publish: Publish;
  metrics: ControllerMetrics;
  log: Logger;
}

const now = (): string => new Date().toISOString();

/** The inspection hook for the meter's driver: its state changes into the feed. */
export function meterInspection(w: MeterWiring): ReturnType<typeof transitions> {
  const source = `meter:${w.name}`;
  return transitions(({ from, to, event, leaves, context }) => {
    w.state.machines.set(source, { machine: source, meter: w.name, evseId: w.evseId, state: leaves, context: meterContextSummary(context) });
    w.publish('state', { machine: source, meter: w.name, evseId: w.evseId, from, to, event });
    w.log.debug({ from, to, event }, 'state');
  });
}

/** Energy and duration of a stop, from its signed record; the duration falls back to the controller's start time. */
function stopFigures(event: Extract<MeterEmitted, { type: 'transaction.stopped' }>, startedAt: string | undefined): Record<string, number> {
  const record = event.response.signed_meter_value?.signed_meter_data;
  const summary = record ? summarizeOcmf(record) : undefined;
  const durationS = summary?.durationS ?? (startedAt ? Math.round((Date.now() - Date.parse(startedAt)) / 1000) : undefined);
  return { ...(summary ? { energyKWh: summary.energyKWh } : {}), ...(durationS !== undefined ? { durationS } : {}) };
}

export function wireMeterEvents(w: MeterWiring & { driver: MeterDriver; ledger: MeterLedger }): void {
  const { name, evseId, state, publish, metrics, log, ledger } = w;
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
        log.info({ meterId: event.meterId, firmware: event.firmware, api: event.api }, 'meter connected');
        void ledger.recover();
        break;
      case 'transaction.started':
        ledger.onStarted(event);
        if (event.response.status === 'OK') state.openTransactions.set(name, { meter: name, evseId, transactionId: event.transactionId, startedAt: now() });
        publish('transaction.started', { meter: name, evseId, transactionId: event.transactionId, response: event.response });
        metrics.transactionStarted(name, event.response.status);
        log.info({ transactionId: event.transactionId, status: event.response.status, error: event.response.error }, 'transaction start');
        break;
      case 'transaction.stopped': {
        const open = state.openTransactions.get(name);
        // Only a stop that worked has a charged energy; a failed one carries at most an intermediate record.
        const figures = event.response.status === 'OK' ? stopFigures(event, open?.transactionId === event.transactionId ? open.startedAt : undefined) : {};
        if (event.response.status === 'OK' && open?.transactionId === event.transactionId) state.openTransactions.delete(name);
        ledger.onStopped(event);
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
        log.warn(event.message);
        break;
      default:
        break;
    }
  });
}
