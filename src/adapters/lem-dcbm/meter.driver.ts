/**
 * One running meter: config → client → actors → `meterMachine.provide(...)` → actor, plus request/response
 * helpers for the EVerest `powermeter` commands (each command carries a request id; the answer is the emitted
 * event with the same id). Several drivers can run in one process; nothing here is module-level state.
 */
import { randomUUID } from 'node:crypto';
import { createActor, type Actor, type ActorOptions } from 'xstate';
import { meterMachine } from '../../../machines/meter.machine.js';
import type { MeterEmitted, MeterMachineInput } from '../../../machines/meter/meter.types.js';
import type { MeterConfig } from '../../config/meter.config.js';
import type { TransactionReq, TransactionStartResponse, TransactionStopResponse } from '../../domain/powermeter.js';
import type { TickClock } from '../clock/ticker.js';
import { DcbmClient } from './dcbm.client.js';
import { createMeterActors, type MeterRequestObserver } from './meter.actors.js';

export function meterMachineInput(config: MeterConfig): MeterMachineInput {
  return {
    name: config.name,
    evseId: config.evse_id,
    apiVersion: config.api_version,
    readingIntervalMs: config.reading_interval_ms,
    warmupMs: config.warmup_ms,
    initRetries: config.resilience_initial_connection_retries,
    initRetryDelayMs: config.resilience_initial_connection_retry_delay,
    txRetries: config.resilience_transaction_request_retries,
    txRetryDelayMs: config.resilience_transaction_request_retry_delay,
    timezone: config.meter_timezone,
    dst: config.meter_dst,
    ntp: config.ntp_server_1_ip_addr === ''
      ? []
      : [
          { ipAddress: config.ntp_server_1_ip_addr, port: config.ntp_server_1_port },
          { ipAddress: config.ntp_server_2_ip_addr, port: config.ntp_server_2_port },
        ],
    IT: config.IT,
    startBody: { tariffId: config.tariff_id, cableId: config.cable_id, UV: config.UV, UD: config.UD, SC: config.SC },
    temperature: {
      warningC: config.temperature_warning_level_C,
      errorC: config.temperature_error_level_C,
      hysteresisK: config.temperature_hysteresis_K,
      minTimeMs: config.temperature_min_time_as_valid_ms,
    },
  };
}

export type MeterActor = Actor<typeof meterMachine>;

export interface MeterDriver {
  readonly name: string;
  readonly actor: MeterActor;
  readonly client: DcbmClient;
  /** `requestId` ties the answer to the request (the journal writes it before the start is sent). */
  startTransaction(req: TransactionReq, requestId?: string): Promise<TransactionStartResponse>;
  /** `recover`: a recovery after a restart; a transaction the meter no longer has open is only read, not stopped. */
  stopTransaction(transactionId: string, options?: { requestId?: string; recover?: boolean }): Promise<TransactionStopResponse>;
  /** The meter is running a start or a stop now (a further command would be refused as busy). */
  busy(): boolean;
  stop(): Promise<void>;
}

export interface MeterDriverOptions {
  tickClock?: TickClock;
  wallClock?: () => number;
  /** XState clock for `after` delays (SimulatedClock in tests). */
  clock?: ActorOptions<typeof meterMachine>['clock'];
  /** XState inspection (the feed derives state transitions from it). */
  inspect?: ActorOptions<typeof meterMachine>['inspect'];
  /** Hears every device request (endpoint, outcome, duration): the metrics. */
  observeRequest?: MeterRequestObserver;
}

export function createMeterDriver(config: MeterConfig, options: MeterDriverOptions = {}): MeterDriver {
  const client = new DcbmClient({
    name: config.name,
    host: config.ip_address,
    port: config.port,
    certificatePem: config.meter_tls_certificate || undefined,
    timeoutMs: config.command_timeout_ms,
    interfaceName: config.interface || undefined,
  });
  const machine = meterMachine.provide({ actors: createMeterActors(client, { ...options, observe: options.observeRequest }) });
  const actor = createActor(machine, {
    input: meterMachineInput(config),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });

  const awaitReply = <T extends 'transaction.started' | 'transaction.stopped'>(type: T, requestId: string) =>
    new Promise<Extract<MeterEmitted, { type: T }>>((resolve) => {
      const sub = actor.on(type, (event) => {
        if ((event as { requestId?: string }).requestId !== requestId) return;
        sub.unsubscribe();
        resolve(event as Extract<MeterEmitted, { type: T }>);
      });
    });

  return {
    name: config.name,
    actor,
    client,
    async startTransaction(req, requestId = randomUUID()) {
      const reply = awaitReply('transaction.started', requestId);
      actor.send({ type: 'START_TRANSACTION', requestId, req });
      return (await reply).response;
    },
    async stopTransaction(transactionId, { requestId = randomUUID(), recover = false } = {}) {
      const reply = awaitReply('transaction.stopped', requestId);
      actor.send({ type: 'STOP_TRANSACTION', requestId, transactionId, ...(recover ? { recover: true } : {}) });
      return (await reply).response;
    },
    busy() {
      return actor.getSnapshot().hasTag('busy');
    },
    async stop() {
      actor.stop();
      await client.close();
    },
  };
}
