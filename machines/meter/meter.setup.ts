/**
 * The named parts of the meter statechart: actors (placeholders until `.provide()` injects the real ones),
 * guards, actions and delays. The states live in the region files beside this one.
 */
import { assign, emit, enqueueActions, fromCallback, fromPromise, raise, setup, type EventObject } from 'xstate';
import { toErrorInfo, type ErrorInfo } from '../../src/domain/errors.js';
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

/** A placeholder of the given type until `.provide()` injects the real actor. */
function missing<TOutput, TInput>(name: string) {
  return fromPromise<TOutput, TInput>(async () => {
    throw new Error(`actor "${name}" was not provided; inject it with machine.provide()`);
  });
}

/** The current record's id and, when the record tells them, the transaction's start time and EVSE. */
export interface LegalInfo {
  transactionId: string;
  startedAtMs?: number | undefined;
  evseId?: string | undefined;
}

type Failure = { error: unknown };

export type TemperatureLevel = 'warning' | 'error';
const levelOf = (c: MeterMachineInput, level: TemperatureLevel): number => (level === 'warning' ? c.temperature.warningC : c.temperature.errorC);
const ocmfValue = (context: MeterContext, ocmf: string) => ({ signed_meter_data: ocmf, signing_method: '', encoding_method: 'OCMF', public_key: context.publicKeyOcmf });
const commandIdOf = (context: MeterContext): string => (context.command?.kind === 'start' ? context.command.req.transaction_id : context.command?.transactionId ?? '');
const refusal = (kind: 'busy' | 'not-ready', message: string): ErrorInfo => ({ kind, status: undefined, retryable: true, message });
const deviceError = (message: string): ErrorInfo => ({ kind: 'protocol', status: undefined, retryable: true, message });

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
    readItSetting: missing<number, void>('readItSetting'),
    writeItSetting: missing<void, { IT: number }>('writeItSetting'),
    readStatus: missing<StatusInfo, void>('readStatus'),
    readLegal: missing<LegalInfo, { api: ApiVersion }>('readLegal'),
    readLive: missing<LiveMeasure, { api: ApiVersion }>('readLive'),
    readOcmf: missing<string, { api: ApiVersion; transactionId: string }>('readOcmf'),
    writeTimeSetting: missing<void, TimeSetting>('writeTimeSetting'),
    startOnDevice: missing<{ startedAtMs: number }, { api: ApiVersion; transactionId: string; body: Record<string, unknown> }>('startOnDevice'),
    stopOnDevice: missing<{ transactionStatus: number }, { api: ApiVersion; transactionId: string }>('stopOnDevice'),
    /** Sends TICK at fixed multiples of the period (drift-free); injected, as it reads a clock. */
    ticker: fromCallback<EventObject, { periodMs: number }>(() => {
      throw new Error('actor "ticker" was not provided; inject it with machine.provide()');
    }),
  },
  guards: {
    itConfigured: ({ context }) => context.config.IT >= 0,
    itMatches: ({ context }, params: { IT: number }) => params.IT === context.config.IT,
    initRetriesLeft: ({ context }) => context.initAttempts <= context.config.initRetries,
    commandRetriesLeft: ({ context }) => context.commandAttempts <= context.config.txRetries,
    isTransportError: (_, params: Failure) => toErrorInfo(params.error).kind === 'transport',
    isHttpStatusError: (_, params: Failure) => toErrorInfo(params.error).kind === 'http-status',
    isClientStatusError: (_, params: Failure) => {
      const { kind, status } = toErrorInfo(params.error);
      return kind === 'http-status' && status !== undefined && status >= 400 && status < 500;
    },
    /** The device answered, but not with what its API defines (a body that is not JSON, or not the schema). */
    isInvalidAnswer: (_, params: Failure) => toErrorInfo(params.error).kind === 'schema',
    startPostUncertain: ({ context }) => context.startPostUncertain,
    isConflictStatusError: (_, params: Failure) => toErrorInfo(params.error).status === 409,
    statusShowsTransactionOpen: (_, params: StatusInfo) => params.transactionOpen,
    currentRecordIsThisStart: ({ context }, params: LegalInfo) => context.command?.kind === 'start' && params.transactionId === context.command.req.transaction_id,
    recordNotEnded: ({ context }, params: { ocmf: string }) => context.stop?.mustBeEnded === true && !ocmfTransactionEnded(params.ocmf),
    needToStop: ({ context }) => context.needToStop,
    /** The refresh's report, unless a command began since the refresh did (its answers are newer). */
    deviceReportFresh: ({ context }) => !context.commandSinceRefresh,
    deviceReportsOpen: ({ context }, params: { open: boolean }) => params.open && !context.commandSinceRefresh,
    ntpMode: ({ context }) => (context.config.ntp[0]?.ipAddress ?? '') !== '',
    ntpSaved: ({ context }) => context.ntpSaved,
    hasDst: ({ context }) => context.config.dst !== null,
    syncUnsafe: ({ context }) => context.syncUnsafe,
    initFaultRaised: ({ context }) => context.initFault,
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
    transportFailureWithCache: ({ context }) =>
      context.commandError?.kind === 'transport' && context.cachedOcmf !== undefined && context.cachedOcmf.transactionId === context.stop?.transactionId,
    temperatureAtOrAbove: ({ context, event }, params: { level: TemperatureLevel }) =>
      event.type === 'TEMPERATURE' && event.value >= levelOf(context.config, params.level),
    temperatureBelow: ({ context, event }, params: { level: TemperatureLevel }) =>
      event.type === 'TEMPERATURE' && event.value < levelOf(context.config, params.level),
    temperatureCleared: ({ context, event }, params: { level: TemperatureLevel }) =>
      event.type === 'TEMPERATURE' && event.value < levelOf(context.config, params.level) - context.config.temperature.hysteresisK,
  },
  actions: {
    // ---- connecting, and the link's refresh (they never run together) ----
    assignIdentity: assign(({ context }, status: StatusInfo) => {
      const api: ApiVersion = context.config.apiVersion === 'auto' ? apiVersionOfFirmware(status.firmware) : context.config.apiVersion;
      return { meterId: status.meterId, publicKeyOcmf: status.publicKeyOcmf, firmware: status.firmware, api, device: { ...context.device, open: status.transactionOpen } };
    }),
    assignDeviceRecord: assign(({ context }, record: LegalInfo) => ({
      device: { open: context.device.open, transactionId: record.transactionId, startedAtMs: record.startedAtMs, evseId: record.evseId },
    })),
    /** The link's refresh tells the transaction region what the meter runs (the region owns needToStop and currentTxId). */
    raiseRefreshStarted: raise({ type: 'REFRESH_STARTED' }),
    raiseDeviceTransaction: raise(({ context }) => ({ type: 'DEVICE_TRANSACTION' as const, open: context.device.open, transactionId: context.device.transactionId })),
    /**
     * Connected, with the transaction the meter runs: as read, unless a command began since the read began (then the
     * transaction region's own view, which the command's answers keep newer).
     */
    emitIdentity: emit(({ context }) => {
      const fresh = !context.commandSinceRefresh;
      const open = fresh ? (context.device.open && context.device.transactionId !== '' ? context.device : undefined)
        : context.needToStop && context.currentTxId !== '' ? { open: true, transactionId: context.currentTxId } : undefined;
      return { type: 'identity' as const, meterId: context.meterId, publicKeyOcmf: context.publicKeyOcmf, firmware: context.firmware, api: context.api, openTransaction: open };
    }),
    /** Counts up to one past the retries: after that the attempts go on at the same delay, InitFailed raised. */
    countInitAttempt: assign({ initAttempts: ({ context }) => Math.min(context.initAttempts + 1, context.config.initRetries + 1) }),
    resetInitAttempts: assign({ initAttempts: 0 }),
    recordInitError: assign((_, params: Failure) => ({ initError: toErrorInfo(params.error) })),
    /** InitFailed stays raised while the attempts go on; it clears when the meter connects. */
    raiseInitFault: enqueueActions(({ context, enqueue }) => {
      if (context.initFault) return;
      enqueue.assign({ initFault: true });
      enqueue.emit({ type: 'fault.raised', fault: 'InitFailed', message: context.initError?.message ?? 'the meter did not answer the init sequence', everest: EVEREST_ERRORS.InitFailed });
    }),
    clearInitFault: enqueueActions(({ context, enqueue }) => {
      if (!context.initFault) return;
      enqueue.assign({ initFault: false, initError: undefined });
      enqueue.emit({ type: 'fault.cleared', fault: 'InitFailed', everest: EVEREST_ERRORS.InitFailed });
    }),
    /** While connecting: the first transport failure raises the communication fault (reference §4.3). */
    raiseCommFaultOnce: enqueueActions(({ context, enqueue }, params: Failure) => {
      const error = toErrorInfo(params.error);
      if (error.kind !== 'transport' || context.commFault) return;
      const everest = communicationFault(error.reason);
      enqueue.assign({ commFault: true, commFaultEverest: everest });
      enqueue.emit({ type: 'fault.raised', fault: 'CommunicationFault', message: error.message, everest });
    }),
    clearCommFault: enqueueActions(({ context, enqueue }) => {
      if (!context.commFault) return;
      enqueue.assign({ commFault: false, commFaultEverest: undefined, linkError: undefined });
      enqueue.emit({ type: 'fault.cleared', fault: 'CommunicationFault', everest: context.commFaultEverest ?? EVEREST_ERRORS.CommunicationFault });
    }),
    // ---- link ----
    /** The communication fault with its own cause (the transport error that raised it). */
    raiseCommFault: enqueueActions(({ enqueue }, params: { error: ErrorInfo }) => {
      const everest = communicationFault(params.error.reason);
      enqueue.assign({ commFault: true, commFaultEverest: everest, linkError: params.error });
      enqueue.emit({ type: 'fault.raised', fault: 'CommunicationFault', message: params.error.message, everest });
    }),
    recordLinkError: assign((_, params: Failure) => ({ linkError: toErrorInfo(params.error) })),
    /** Only transport errors raise the communication fault (reference §4.3). */
    reportCommLoss: enqueueActions(({ enqueue }, params: Failure) => {
      const error = toErrorInfo(params.error);
      if (error.kind === 'transport') enqueue.raise({ type: 'COMM_LOST', error });
    }),
    raiseFault: emit((_, params: { fault: Exclude<MeterFault, 'CommunicationFault' | 'InitFailed'>; message: string }) => ({
      type: 'fault.raised' as const, fault: params.fault, message: params.message, everest: EVEREST_ERRORS[params.fault],
    })),
    clearFault: emit((_, params: { fault: MeterFault }) => ({ type: 'fault.cleared' as const, fault: params.fault, everest: EVEREST_ERRORS[params.fault] })),
    // ---- readings ----
    publishReading: enqueueActions(({ context, enqueue }, live: LiveMeasure) => {
      const reading = toPowermeter(live, context.meterId);
      const cached = context.needToStop && context.cachedOcmf?.transactionId === context.currentTxId ? context.cachedOcmf.value : undefined;
      const published = cached ? { ...reading, signed_meter_value: cached } : reading;
      enqueue.assign({ lastReading: published });
      enqueue.emit({ type: 'reading', reading: published });
      enqueue.raise({ type: 'LIVE_OK' });
      enqueue.raise({ type: 'TEMPERATURE', value: Math.max(live.temperatureH, live.temperatureL) });
    }),
    /** An answer that is not a livemeasure: a warning with the endpoint and what was wrong, and the answers region counts it. */
    reportInvalidAnswer: enqueueActions(({ context, enqueue }, params: Failure) => {
      const error = toErrorInfo(params.error);
      enqueue.emit({ type: 'warning', message: `the meter answered an invalid livemeasure: ${error.message}`, detail: { endpoint: `GET /${context.api}/livemeasure`, error: error.message } });
      enqueue.raise({ type: 'ANSWER_INVALID', error });
    }),
    cacheOcmf: assign(({ context }, params: { ocmf: string }) => ({
      cachedOcmf: { transactionId: context.currentTxId, value: { ...ocmfValue(context, params.ocmf), timestamp: context.lastReading?.timestamp ?? '' } },
    })),
    /** The intermediate cache never outlives its transaction (reference §6.2 item 4); '' drops any. */
    dropOcmfCache: assign({
      cachedOcmf: ({ context, event }) => (event.type === 'TRANSACTION_CLOSED' && (event.transactionId === '' || event.transactionId === context.cachedOcmf?.transactionId) ? undefined : context.cachedOcmf),
    }),
    // ---- warm-up, time sync ----
    markWarmedUp: assign({ warmedUp: true }),
    raiseWarmedUp: raise({ type: 'WARMED_UP' }),
    beginSync: assign({ syncUnsafe: ({ context }) => !context.warmedUp }),
    markNtpSaved: assign({ ntpSaved: ({ context }) => !context.syncUnsafe }),
    raiseTimeSynced: raise({ type: 'TIME_SYNCED' }),
    raiseTimeSyncFailed: raise((_, params: Failure) => ({ type: 'TIME_SYNC_FAILED' as const, error: toErrorInfo(params.error) })),
    requestSync: raise({ type: 'SYNC_NOW' }),
    raiseTransactionEnded: raise({ type: 'TRANSACTION_ENDED' }),
    warnUnsafeSync: emit({ type: 'warning' as const, message: 'time synced within the warm-up after init: the meter may not keep it; it will be synced again in 1 minute' }),
    // ---- transactions ----
    /** The region's view of the meter's transaction, from what connecting read. */
    adoptDeviceTransaction: assign(({ context }) => ({ needToStop: context.device.open, currentTxId: context.device.transactionId })),
    /** The link's refresh read the meter again (outside a command: a command's own answers decide while it runs). */
    assignDeviceTransaction: assign((_, params: { open: boolean; transactionId: string }) => ({ needToStop: params.open, currentTxId: params.transactionId })),
    beginDeviceReport: assign({ commandSinceRefresh: false }),
    acceptCommand: assign({
      commandSinceRefresh: true,
      command: ({ event }) => {
        if (event.type === 'START_TRANSACTION') return { kind: 'start' as const, requestId: event.requestId, req: event.req };
        if (event.type === 'STOP_TRANSACTION') return { kind: 'stop' as const, requestId: event.requestId, transactionId: event.transactionId, ...(event.recover ? { recover: true } : {}) };
        return undefined;
      },
      commandAttempts: 0,
      startPostUncertain: false,
      stop: undefined,
      commandError: undefined,
    }),
    /** Answers a command that cannot run now, without touching the current one. */
    rejectCommand: emit(({ event }, params: { kind: 'busy' | 'not-ready'; reason: string }) => {
      const cause = refusal(params.kind, params.reason);
      if (event.type === 'START_TRANSACTION') {
        return { type: 'transaction.started' as const, requestId: event.requestId, transactionId: event.req.transaction_id, cause, response: { status: 'UNEXPECTED_ERROR' as const, error: `Failed to start transaction ${event.req.transaction_id}: ${params.reason}` } };
      }
      const id = event.type === 'STOP_TRANSACTION' ? event.transactionId : '';
      return { type: 'transaction.stopped' as const, requestId: event.type === 'STOP_TRANSACTION' ? event.requestId : undefined, transactionId: id, final: false, cause, response: { status: 'UNEXPECTED_ERROR' as const, error: `Failed to stop transaction ${id}: ${params.reason}` } };
    }),
    replyStartInvalid: emit(({ context }) => {
      const req = context.command?.kind === 'start' ? context.command.req : undefined;
      const message = req ? checkTransactionReq(req) ?? '' : 'no request';
      return { type: 'transaction.started' as const, requestId: context.command?.requestId ?? '', transactionId: req?.transaction_id ?? '', cause: { kind: 'other' as const, status: undefined, retryable: false, message }, response: { status: 'UNEXPECTED_ERROR' as const, error: `Failed to start transaction ${req?.transaction_id ?? ''}: ${message}` } };
    }),
    recordCommandError: assign((_, params: Failure) => ({ commandError: toErrorInfo(params.error) })),
    countCommandAttempt: assign({ commandAttempts: ({ context }) => context.commandAttempts + 1 }),
    markDanglingClosed: assign({ needToStop: false }),
    emitDanglingClosed: enqueueActions(({ context, enqueue }, params: { ocmf: string }) => {
      enqueue.emit({ type: 'transaction.stopped', requestId: undefined, transactionId: context.currentTxId, final: true, response: { status: 'OK', signed_meter_value: ocmfValue(context, params.ocmf) } });
      enqueue.raise({ type: 'TRANSACTION_CLOSED', transactionId: context.currentTxId });
    }),
    warnDanglingOcmfMissing: emit(({ context }, params: Failure) => ({ type: 'warning' as const, message: `closed the dangling transaction ${context.currentTxId} but could not read its OCMF: ${toErrorInfo(params.error).message}` })),
    replyStarted: enqueueActions(({ context, enqueue }, params: { startedAtMs?: number | undefined }) => {
      if (context.command?.kind !== 'start') return;
      const id = context.command.req.transaction_id;
      enqueue.assign({ needToStop: true, currentTxId: id });
      enqueue.raise({ type: 'TRANSACTION_CLOSED', transactionId: '' });
      // From the POST's answer, or from the current record when a lost answer was confirmed (no start time: no bounds).
      const { startedAtMs } = params;
      enqueue.emit({ type: 'transaction.started', requestId: context.command.requestId, transactionId: id, response: { status: 'OK', ...(startedAtMs !== undefined ? stopTimeBounds(startedAtMs) : {}) } });
    }),
    replyStartFailed: emit(({ context }) => {
      const id = commandIdOf(context);
      const cause = context.commandError;
      const reason = cause?.message ?? 'unknown error';
      return { type: 'transaction.started' as const, requestId: context.command?.requestId ?? '', transactionId: id, cause, response: { status: 'UNEXPECTED_ERROR' as const, error: cause?.kind === 'transport' ? `Failed to start transaction ${id} - connection to device failed: ${reason}` : `Failed to start transaction ${id}: ${reason}` } };
    }),
    warnClientIdShortened: enqueueActions(({ context, enqueue }) => {
      if (context.command?.kind !== 'start') return;
      const { req } = context.command;
      if (buildClientId(req.identification_data ?? '', req.transaction_id).shortened) enqueue.emit({ type: 'warning', message: `identification data shortened to fit clientId in 37 bytes; transaction id ${context.command.req.transaction_id} kept whole` });
    }),
    // ---- stop table rows (reference §4.7) ----
    stopAlreadyClosed: assign(({ context }) => ({ stop: { transactionId: commandIdOf(context), putDone: true }, currentTxId: '' })),
    stopCurrent: assign(({ context }) => ({ stop: { transactionId: context.currentTxId, putDone: false }, currentTxId: '', needToStop: false })),
    /** Recovery of a transaction the meter no longer has open: only its record is read. */
    stopRecovering: assign(({ context }) => {
      const transactionId = commandIdOf(context);
      return { stop: { transactionId, putDone: true, mustBeEnded: true }, ...(context.currentTxId === transactionId ? { currentTxId: '' } : {}) };
    }),
    stopOther: assign(({ context }) => ({ stop: { transactionId: commandIdOf(context), putDone: false } })),
    markPutDone: assign({ stop: ({ context }) => (context.stop ? { ...context.stop, putDone: true } : undefined) }),
    recordOtherTransactionRunning: assign((_, params: LegalInfo) => ({ commandError: deviceError(`the meter runs another transaction (${params.transactionId})`) })),
    /** The meter refused the PUT: maybe it closed the transaction itself (power loss); its record will tell. */
    markPutRefused: assign({ stop: ({ context }) => (context.stop ? { ...context.stop, mustBeEnded: true } : undefined) }),
    /** The meter still runs the transaction: the next attempt PUTs it (a recovery of a stop whose PUT never landed). */
    recordNotEnded: assign(({ context }) => ({
      commandError: deviceError(`the record of ${context.stop?.transactionId ?? ''} does not end the transaction; the meter still runs it (${context.commandError?.message ?? 'no error'})`),
      stop: context.stop ? { ...context.stop, putDone: false } : undefined,
    })),
    replyStopNothingOpen: emit(({ context }) => ({ type: 'transaction.stopped' as const, requestId: context.command?.requestId, transactionId: '', final: false, cause: deviceError('No dangling transaction open'), response: { status: 'UNEXPECTED_ERROR' as const, error: 'No dangling transaction open' } })),
    replyStopped: enqueueActions(({ context, enqueue }, params: { ocmf: string }) => {
      const transactionId = context.stop?.transactionId ?? '';
      enqueue.emit({ type: 'transaction.stopped', requestId: context.command?.requestId, transactionId, final: true, response: { status: 'OK', signed_meter_value: ocmfValue(context, params.ocmf) } });
      enqueue.raise({ type: 'TRANSACTION_CLOSED', transactionId });
      // Its final record says it is closed (the meter may have ended it itself, e.g. at a power loss).
      if (transactionId !== '' && context.needToStop && context.currentTxId === transactionId) enqueue.assign({ needToStop: false, currentTxId: '' });
    }),
    replyStoppedFromCache: enqueueActions(({ context, enqueue }) => {
      const transactionId = context.stop?.transactionId ?? '';
      enqueue.emit({ type: 'transaction.stopped', requestId: context.command?.requestId, transactionId, final: false, cause: context.commandError, response: stopResponseFromCache(context) });
      enqueue.raise({ type: 'TRANSACTION_CLOSED', transactionId });
    }),
    replyStopFailed: emit(({ context }) => {
      const id = context.stop?.transactionId ?? '';
      const cause = context.commandError;
      const reason = cause?.message ?? 'unknown error';
      return { type: 'transaction.stopped' as const, requestId: context.command?.requestId, transactionId: id, final: false, cause, response: { status: 'UNEXPECTED_ERROR' as const, error: cause?.kind === 'transport' ? `Failed to stop transaction ${id} - connection to device failed: ${reason}` : `Failed to stop transaction ${id}: ${reason}` } };
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
