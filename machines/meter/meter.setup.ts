/**
 * The named parts of the meter statechart: actors (placeholders until `.provide()` injects the real ones),
 * guards, actions and delays. The states live in the region files beside this one.
 */
import { assign, emit, enqueueActions, fromCallback, fromPromise, raise, setup, type EventObject } from 'xstate';
import { errorMessage, isTransportError } from '../../src/domain/errors.js';
import { apiVersionOfFirmware, type ApiVersion } from '../../src/domain/firmware.js';
import { ocmfTransactionEnded } from '../../src/domain/ocmf.js';
import {
  buildClientId, checkTransactionReq, stopTimeBounds, toPowermeter, type LiveMeasure, type TransactionStopResponse,
} from '../../src/domain/powermeter.js';
import {
  communicationFault, EVEREST_ERRORS, type MeterContext, type MeterEmitted, type MeterEvent, type MeterFault, type MeterMachineInput, type StatusInfo, type TimeSetting,
} from './meter.types.js';

const MINUTE = 60_000;
/** Re-sync 24 h after a reliable sync (reference §4.5). */
export const SYNC_INTERVAL_MS = 24 * 60 * MINUTE;
/** Retry 1 min after a failed or unreliable sync (reference §4.5). */
export const SYNC_RETRY_MS = MINUTE;

const missing = (name: string) => fromPromise<never, unknown>(async () => {
  throw new Error(`actor "${name}" was not provided; inject it with machine.provide()`);
});

type Output<T> = { output: T };
type Failure = { error: unknown };
const ev = <T>(event: unknown): T => event as T;
/** The transport reason a ControllerError carries (refused, timeout, reset, ...). */
const reasonOf = (error: unknown): string | undefined => (error as { reason?: unknown } | undefined)?.reason as string | undefined;

export type TemperatureLevel = 'warning' | 'error';
const levelOf = (c: MeterMachineInput, level: TemperatureLevel): number => (level === 'warning' ? c.temperature.warningC : c.temperature.errorC);

function stopResponseFromCache(context: MeterContext): TransactionStopResponse {
  const cached = context.cachedOcmf;
  return {
    status: 'OK',
    signed_meter_value: cached!.value,
    error: 'meter unreachable: this is the intermediate OCMF record read while the transaction ran, not the final one',
  };
}

export const meterSetup = setup({
  types: {
    context: {} as MeterContext,
    events: {} as MeterEvent,
    input: {} as MeterMachineInput,
    emitted: {} as MeterEmitted,
  },
  actors: {
    readItSetting: missing('readItSetting') as unknown as ReturnType<typeof fromPromise<number, void>>,
    writeItSetting: missing('writeItSetting') as unknown as ReturnType<typeof fromPromise<void, { IT: number }>>,
    readStatus: missing('readStatus') as unknown as ReturnType<typeof fromPromise<StatusInfo, void>>,
    readLegal: missing('readLegal') as unknown as ReturnType<typeof fromPromise<{ transactionId: string; startedAtMs?: number | undefined }, { api: ApiVersion }>>,
    readLive: missing('readLive') as unknown as ReturnType<typeof fromPromise<LiveMeasure, { api: ApiVersion }>>,
    readOcmf: missing('readOcmf') as unknown as ReturnType<typeof fromPromise<string, { api: ApiVersion; transactionId: string }>>,
    writeTimeSetting: missing('writeTimeSetting') as unknown as ReturnType<typeof fromPromise<void, TimeSetting>>,
    startOnDevice: missing('startOnDevice') as unknown as ReturnType<typeof fromPromise<{ startedAtMs: number }, { api: ApiVersion; transactionId: string; body: Record<string, unknown> }>>,
    stopOnDevice: missing('stopOnDevice') as unknown as ReturnType<typeof fromPromise<{ transactionStatus: number }, { api: ApiVersion; transactionId: string }>>,
    /** Sends TICK at fixed multiples of the period (drift-free); injected, as it reads a clock. */
    ticker: fromCallback<EventObject, { periodMs: number }>(() => {
      throw new Error('actor "ticker" was not provided; inject it with machine.provide()');
    }),
  },
  guards: {
    itConfigured: ({ context }) => context.config.IT >= 0,
    itMatches: ({ context, event }) => ev<Output<number>>(event).output === context.config.IT,
    initRetriesLeft: ({ context }) => context.initAttempts <= context.config.initRetries,
    commandRetriesLeft: ({ context }) => context.commandAttempts <= context.config.txRetries,
    isTransportError: ({ event }) => isTransportError(ev<Failure>(event).error),
    isHttpStatusError: ({ event }) => (ev<Failure>(event).error as { kind?: string } | undefined)?.kind === 'http-status',
    isClientStatusError: ({ event }) => {
      const error = ev<Failure>(event).error as { kind?: string; status?: number } | undefined;
      return error?.kind === 'http-status' && error.status !== undefined && error.status >= 400 && error.status < 500;
    },
    startPostUncertain: ({ context }) => context.startPostUncertain,
    isConflictStatusError: ({ event }) => (ev<Failure>(event).error as { kind?: string; status?: number } | undefined)?.status === 409,
    statusShowsTransactionOpen: ({ event }) => ev<Output<StatusInfo>>(event).output.transactionOpen,
    currentRecordIsThisStart: ({ context, event }) =>
      context.command?.kind === 'start' && ev<Output<{ transactionId: string }>>(event).output.transactionId === context.command.req.transaction_id,
    recordNotEnded: ({ context, event }) => context.stop?.mustBeEnded === true && !ocmfTransactionEnded(ev<Output<string>>(event).output),
    needToStop: ({ context }) => context.needToStop,
    ntpMode: ({ context }) => (context.config.ntp[0]?.ipAddress ?? '') !== '',
    ntpSaved: ({ context }) => context.ntpSaved,
    hasDst: ({ context }) => context.config.dst !== null,
    syncUnsafe: ({ context }) => context.syncUnsafe,
    startRequestInvalid: ({ context }) => context.command?.kind === 'start' && checkTransactionReq(context.command.req) !== undefined,
    // Stop decision table (reference §4.7), in its order; an empty id never means "the current id" when nothing is open.
    stopNothingOpen: ({ context }) => context.command?.kind === 'stop' && !context.needToStop && context.command.transactionId === '',
    stopAlreadyClosed: ({ context }) => context.command?.kind === 'stop' && !context.needToStop && context.command.transactionId === context.currentTxId,
    stopCurrent: ({ context }) => context.command?.kind === 'stop' && context.needToStop && context.command.transactionId === context.currentTxId,
    stopDangling: ({ context }) => context.command?.kind === 'stop' && context.needToStop && context.command.transactionId === '',
    stopRecovering: ({ context }) =>
      context.command?.kind === 'stop' && context.command.recover === true && context.command.transactionId !== ''
      && !(context.needToStop && context.command.transactionId === context.currentTxId),
    stopPutDone: ({ context }) => context.stop?.putDone === true,
    lastErrorTransportWithCache: ({ context }) =>
      context.lastError?.startsWith('transport:') === true && context.cachedOcmf !== undefined && context.cachedOcmf.transactionId === context.stop?.transactionId,
    temperatureAtOrAbove: ({ context, event }, params: { level: TemperatureLevel }) =>
      event.type === 'TEMPERATURE' && event.value >= levelOf(context.config, params.level),
    temperatureBelow: ({ context, event }, params: { level: TemperatureLevel }) =>
      event.type === 'TEMPERATURE' && event.value < levelOf(context.config, params.level),
    temperatureCleared: ({ context, event }, params: { level: TemperatureLevel }) =>
      event.type === 'TEMPERATURE' && event.value < levelOf(context.config, params.level) - context.config.temperature.hysteresisK,
  },
  actions: {
    assignIdentity: assign(({ context, event }) => {
      const status = ev<Output<StatusInfo>>(event).output;
      const api: ApiVersion = context.config.apiVersion === 'auto' ? apiVersionOfFirmware(status.firmware) : context.config.apiVersion;
      return { meterId: status.meterId, publicKeyOcmf: status.publicKeyOcmf, firmware: status.firmware, api, needToStop: status.transactionOpen };
    }),
    assignCurrentTransaction: assign({ currentTxId: ({ event }) => ev<Output<{ transactionId: string }>>(event).output.transactionId }),
    emitIdentity: emit(({ context }) => ({ type: 'identity' as const, meterId: context.meterId, publicKeyOcmf: context.publicKeyOcmf, firmware: context.firmware, api: context.api })),
    countInitAttempt: assign({ initAttempts: ({ context }) => context.initAttempts + 1 }),
    resetInitAttempts: assign({ initAttempts: 0 }),
    countCommandAttempt: assign({ commandAttempts: ({ context }) => context.commandAttempts + 1 }),
    recordError: assign({
      lastError: ({ event }) => {
        const error = ev<Failure>(event).error;
        return `${isTransportError(error) ? 'transport' : 'device'}: ${errorMessage(error)}`;
      },
    }),
    /** Only transport errors raise the communication fault (reference §4.3). */
    reportCommLoss: enqueueActions(({ event, enqueue }) => {
      const error = ev<Failure>(event).error;
      if (isTransportError(error)) enqueue.raise({ type: 'COMM_LOST', error: errorMessage(error), reason: reasonOf(error) });
    }),
    /** While connecting: the first transport failure raises the communication fault (reference §4.3). */
    raiseCommFaultOnce: enqueueActions(({ context, event, enqueue }) => {
      const error = ev<Failure>(event).error;
      if (!isTransportError(error) || context.commFault) return;
      const everest = communicationFault(reasonOf(error));
      enqueue.assign({ commFault: true, commFaultEverest: everest });
      enqueue.emit({ type: 'fault.raised', fault: 'CommunicationFault', message: `transport: ${errorMessage(error)}`, everest });
    }),
    clearCommFault: enqueueActions(({ context, enqueue }) => {
      if (!context.commFault) return;
      enqueue.assign({ commFault: false, commFaultEverest: undefined });
      enqueue.emit({ type: 'fault.cleared', fault: 'CommunicationFault', everest: context.commFaultEverest ?? EVEREST_ERRORS.CommunicationFault });
    }),
    markCommFault: assign(({ event }) => ({ commFault: true, commFaultEverest: event.type === 'COMM_LOST' ? communicationFault(event.reason) : EVEREST_ERRORS.CommunicationFault })),
    raiseFault: emit(({ context }, params: { fault: MeterFault }) => ({
      type: 'fault.raised' as const, fault: params.fault, message: context.lastError ?? params.fault,
      everest: params.fault === 'CommunicationFault' ? context.commFaultEverest ?? EVEREST_ERRORS.CommunicationFault : EVEREST_ERRORS[params.fault],
    })),
    clearFault: emit((_, params: { fault: MeterFault }) => ({ type: 'fault.cleared' as const, fault: params.fault, everest: EVEREST_ERRORS[params.fault] })),
    publishReading: enqueueActions(({ context, event, enqueue }) => {
      const live = ev<Output<LiveMeasure>>(event).output;
      const reading = toPowermeter(live, context.meterId);
      const cached = context.needToStop && context.cachedOcmf?.transactionId === context.currentTxId ? context.cachedOcmf.value : undefined;
      const published = cached ? { ...reading, signed_meter_value: cached } : reading;
      enqueue.assign({ lastReading: published });
      enqueue.emit({ type: 'reading', reading: published });
      enqueue.raise({ type: 'LIVE_OK' });
      enqueue.raise({ type: 'TEMPERATURE', value: Math.max(live.temperatureH, live.temperatureL) });
    }),
    cacheOcmf: assign({
      cachedOcmf: ({ context, event }) => ({
        transactionId: context.currentTxId,
        value: { signed_meter_data: ev<Output<string>>(event).output, signing_method: '', encoding_method: 'OCMF', public_key: context.publicKeyOcmf, timestamp: context.lastReading?.timestamp ?? '' },
      }),
    }),
    markWarmedUp: assign({ warmedUp: true }),
    raiseWarmedUp: raise({ type: 'WARMED_UP' }),
    beginSync: assign({ syncUnsafe: ({ context }) => !context.warmedUp }),
    markNtpSaved: assign({ ntpSaved: ({ context }) => !context.syncUnsafe }),
    raiseTimeSynced: raise({ type: 'TIME_SYNCED' }),
    raiseTimeSyncFailed: raise(({ context }) => ({ type: 'TIME_SYNC_FAILED' as const, error: context.lastError ?? 'time sync failed' })),
    requestSync: raise({ type: 'SYNC_NOW' }),
    raiseTransactionEnded: raise({ type: 'TRANSACTION_ENDED' }),
    warnUnsafeSync: emit({ type: 'warning' as const, message: 'time synced within the warm-up after init: the meter may not keep it; it will be synced again in 1 minute' }),
    acceptCommand: assign({
      command: ({ event }) => {
        if (event.type === 'START_TRANSACTION') return { kind: 'start' as const, requestId: event.requestId, req: event.req };
        if (event.type === 'STOP_TRANSACTION') return { kind: 'stop' as const, requestId: event.requestId, transactionId: event.transactionId, ...(event.recover ? { recover: true } : {}) };
        return undefined;
      },
      commandAttempts: 0,
      startPostUncertain: false,
      stop: undefined,
    }),
    /** Answers a command that cannot run now, without touching the current one. */
    rejectCommand: emit(({ event }, params: { reason: string }) => {
      if (event.type === 'START_TRANSACTION') {
        return { type: 'transaction.started' as const, requestId: event.requestId, transactionId: event.req.transaction_id, response: { status: 'UNEXPECTED_ERROR' as const, error: `Failed to start transaction ${event.req.transaction_id}: ${params.reason}` } };
      }
      const id = event.type === 'STOP_TRANSACTION' ? event.transactionId : '';
      return { type: 'transaction.stopped' as const, requestId: event.type === 'STOP_TRANSACTION' ? event.requestId : undefined, transactionId: id, final: false, response: { status: 'UNEXPECTED_ERROR' as const, error: `Failed to stop transaction ${id}: ${params.reason}` } };
    }),
    replyStartInvalid: emit(({ context }) => {
      const req = context.command?.kind === 'start' ? context.command.req : undefined;
      return { type: 'transaction.started' as const, requestId: context.command?.requestId ?? '', transactionId: req?.transaction_id ?? '', response: { status: 'UNEXPECTED_ERROR' as const, error: `Failed to start transaction ${req?.transaction_id ?? ''}: ${req ? checkTransactionReq(req) : 'no request'}` } };
    }),
    markDanglingClosed: assign({ needToStop: false }),
    emitDanglingClosed: emit(({ context, event }) => ({
      type: 'transaction.stopped' as const, requestId: undefined, transactionId: context.currentTxId, final: true,
      response: { status: 'OK' as const, signed_meter_value: { signed_meter_data: ev<Output<string>>(event).output, signing_method: '', encoding_method: 'OCMF', public_key: context.publicKeyOcmf } },
    })),
    warnDanglingOcmfMissing: emit(({ context }) => ({ type: 'warning' as const, message: `closed the dangling transaction ${context.currentTxId} but could not read its OCMF: ${context.lastError ?? ''}` })),
    replyStarted: enqueueActions(({ context, event, enqueue }) => {
      if (context.command?.kind !== 'start') return;
      const id = context.command.req.transaction_id;
      enqueue.assign({ needToStop: true, currentTxId: id, cachedOcmf: undefined });
      // From the POST's answer, or from the current record when a lost answer was confirmed (no start time: no bounds).
      const startedAtMs = ev<Output<{ startedAtMs?: number | undefined }>>(event).output.startedAtMs;
      enqueue.emit({ type: 'transaction.started', requestId: context.command.requestId, transactionId: id, response: { status: 'OK', ...(startedAtMs !== undefined ? stopTimeBounds(startedAtMs) : {}) } });
    }),
    replyStartFailed: emit(({ context }) => {
      const id = context.command?.kind === 'start' ? context.command.req.transaction_id : '';
      const transport = context.lastError?.startsWith('transport:');
      const reason = context.lastError?.replace(/^(transport|device): /, '') ?? 'unknown error';
      return { type: 'transaction.started' as const, requestId: context.command?.requestId ?? '', transactionId: id, response: { status: 'UNEXPECTED_ERROR' as const, error: transport ? `Failed to start transaction ${id} - connection to device failed: ${reason}` : `Failed to start transaction ${id}: ${reason}` } };
    }),
    warnClientIdShortened: enqueueActions(({ context, enqueue }) => {
      if (context.command?.kind !== 'start') return;
      const { req } = context.command;
      if (buildClientId(req.identification_data ?? '', req.transaction_id).shortened) enqueue.emit({ type: 'warning', message: `identification data shortened to fit clientId in 37 bytes; transaction id ${context.command.req.transaction_id} kept whole` });
    }),
    // ---- stop table rows (reference §4.7) ----
    stopAlreadyClosed: assign(({ context }) => ({ stop: { transactionId: context.command?.kind === 'stop' ? context.command.transactionId : '', putDone: true }, currentTxId: '' })),
    stopCurrent: assign(({ context }) => ({ stop: { transactionId: context.currentTxId, putDone: false }, currentTxId: '', needToStop: false })),
    /** Recovery of a transaction the meter no longer has open: only its record is read. */
    stopRecovering: assign(({ context }) => {
      const transactionId = context.command?.kind === 'stop' ? context.command.transactionId : '';
      return { stop: { transactionId, putDone: true, mustBeEnded: true }, ...(context.currentTxId === transactionId ? { currentTxId: '' } : {}) };
    }),
    stopOther: assign(({ context }) => ({ stop: { transactionId: context.command?.kind === 'stop' ? context.command.transactionId : '', putDone: false } })),
    markPutDone: assign({ stop: ({ context }) => (context.stop ? { ...context.stop, putDone: true } : undefined) }),
    recordOtherTransactionRunning: assign({
      lastError: ({ event }) => `device: the meter runs another transaction (${ev<Output<{ transactionId: string }>>(event).output.transactionId})`,
    }),
    /** The meter refused the PUT: maybe it closed the transaction itself (power loss); its record will tell. */
    markPutRefused: assign({ stop: ({ context }) => (context.stop ? { ...context.stop, mustBeEnded: true } : undefined) }),
    /** The meter still runs the transaction: the next attempt PUTs it (a recovery of a stop whose PUT never landed). */
    recordNotEnded: assign({
      lastError: ({ context }) => `device: the record of ${context.stop?.transactionId ?? ''} does not end the transaction; the meter still runs it (${context.lastError ?? 'no error'})`,
      stop: ({ context }) => (context.stop ? { ...context.stop, putDone: false } : undefined),
    }),
    replyStopNothingOpen: emit(({ context }) => ({ type: 'transaction.stopped' as const, requestId: context.command?.requestId, transactionId: '', final: false, response: { status: 'UNEXPECTED_ERROR' as const, error: 'No dangling transaction open' } })),
    replyStopped: enqueueActions(({ context, event, enqueue }) => {
      const transactionId = context.stop?.transactionId ?? '';
      enqueue.emit({
        type: 'transaction.stopped', requestId: context.command?.requestId, transactionId, final: true,
        response: { status: 'OK', signed_meter_value: { signed_meter_data: ev<Output<string>>(event).output, signing_method: '', encoding_method: 'OCMF', public_key: context.publicKeyOcmf } },
      });
      // The intermediate cache never outlives a successful stop (reference §6.2 item 4).
      if (context.cachedOcmf?.transactionId === transactionId) enqueue.assign({ cachedOcmf: undefined });
      // A link refresh during the stop may have read the transaction as still open (status before the close, maybe
      // with the open id from the record): its final record says it is not. `''` means this stop took the current one.
      if (transactionId !== '' && (context.currentTxId === transactionId || context.currentTxId === '')) enqueue.assign({ needToStop: false, currentTxId: '' });
    }),
    replyStoppedFromCache: enqueueActions(({ context, enqueue }) => {
      enqueue.emit({ type: 'transaction.stopped', requestId: context.command?.requestId, transactionId: context.stop?.transactionId ?? '', final: false, response: stopResponseFromCache(context) });
      enqueue.assign({ cachedOcmf: undefined });
    }),
    replyStopFailed: emit(({ context }) => {
      const id = context.stop?.transactionId ?? '';
      const transport = context.lastError?.startsWith('transport:');
      const reason = context.lastError?.replace(/^(transport|device): /, '') ?? 'unknown error';
      return { type: 'transaction.stopped' as const, requestId: context.command?.requestId, transactionId: id, final: false, response: { status: 'UNEXPECTED_ERROR' as const, error: transport ? `Failed to stop transaction ${id} - connection to device failed: ${reason}` : `Failed to stop transaction ${id}: ${reason}` } };
    }),
    endCommand: assign({ command: undefined, stop: undefined, commandAttempts: 0, startPostUncertain: false }),
    markStartPostUncertain: assign({ startPostUncertain: true }),
  },
  delays: {
    initRetryDelay: ({ context }) => context.config.initRetryDelayMs,
    commandRetryDelay: ({ context }) => context.config.txRetryDelayMs,
    warmup: ({ context }) => context.config.warmupMs,
    syncInterval: SYNC_INTERVAL_MS,
    syncRetry: SYNC_RETRY_MS,
    temperatureMinTime: ({ context }) => context.config.temperature.minTimeMs,
  },
});
