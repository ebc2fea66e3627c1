/**
 * The named parts of the registration statechart: placeholder actors (the real ones come from
 * src/adapters/sep2/registration.actors.ts through `.provide()`), guards, actions and the retry delays.
 *
 * Failures are sorted in three (reference §4.7, issue 12):
 * - transient (transport errors, 5xx, 429): retried in the request's `backoff` state, forever unless the policy
 *   sets `maxAttempts`, after capped exponential back-off with jitter, or after the server's own `Retry-After` /
 *   `maxRetryDuration` (capped);
 * - trust (a certificate or handshake problem; a handshake reset once it repeats): `failed` as `untrusted`;
 * - permanent (400 with an Error body, 403, a PIN mismatch, ...): `failed` with the step's code.
 * `failed` is left on command or, unless the policy turns it off, after `failedRetryMs` (1 h).
 */
import { notProvided } from '../actors.js';
import { assign, emit, enqueueActions, setup } from 'xstate';
import { backoffDelayMs, jitterDraw } from '../../src/domain/retry.js';
import type { Sep2Documents } from '../../src/domain/sep2-resources.js';
import type {
  Failure, FailureCode, FindInput, FindOutput, GetInput, RegistrationContext, RegistrationEmitted, RegistrationEvent, RegistrationInput, SendInput, SendOutput,
} from './registration.types.js';


/** What the statechart reads of a failed request (a ControllerError, or Sep2HttpError with the `Error` body). */
interface RequestError {
  kind?: string;
  status?: number;
  reason?: string;
  message?: string;
  retryAfterMs?: number;
  errorBody?: { reasonCode: number; maxRetryDuration: number | undefined; message: string | undefined };
}
const errorOf = (event: unknown): RequestError => ((event as { error?: unknown }).error ?? {}) as RequestError;
const outputOf = <T>(event: unknown): T => (event as { output: T }).output;

/** A handshake the server cuts off is retried this many times; after that it is a trust failure. */
export const HANDSHAKE_RESETS_TOLERATED = 2;
const DEFAULT_HINT_CAP_MS = 3_600_000;
const DEFAULT_FAILED_RETRY_MS = 3_600_000;

/** Transport errors, 5xx and 429 are retried (reference §4.7); a repeated handshake reset is not. */
function isTransient(error: RequestError, attempts: number): boolean {
  if (error.kind === 'transport') return error.reason !== 'handshake-reset' || attempts < HANDSHAKE_RESETS_TOLERATED;
  return error.status === 429 || (error.status !== undefined && error.status >= 500);
}
const isTrust = (error: RequestError): boolean => error.kind === 'trust' || (error.kind === 'transport' && error.reason === 'handshake-reset');

function failureFrom(event: unknown, code: FailureCode, step: string): Failure {
  const error = errorOf(event);
  const body = error.errorBody;
  return {
    code, step, message: error.message ?? 'request failed',
    ...(error.status !== undefined ? { status: error.status } : {}),
    ...(body ? { reasonCode: body.reasonCode, serverMessage: body.message } : {}),
    ...(error.kind !== undefined ? { kind: error.kind } : {}),
    ...(error.reason !== undefined ? { reason: error.reason } : {}),
  };
}

/** The server's own hint of when to come back: `Retry-After` (503, 429), else the Error body's `maxRetryDuration`. */
function serverHintMs(error: RequestError): number | undefined {
  if (error.retryAfterMs !== undefined) return error.retryAfterMs;
  if (error.errorBody?.maxRetryDuration !== undefined) return error.errorBody.maxRetryDuration * 1000;
  return undefined;
}

type FoundList = { doc: Sep2Documents['DERList'] };

export const registrationSetup = setup({
  types: {
    context: {} as RegistrationContext,
    events: {} as RegistrationEvent,
    input: {} as RegistrationInput,
    emitted: {} as RegistrationEmitted,
  },
  actors: {
    getDocument: notProvided<{ doc: unknown; csipaus: '1.2' | '1.3' | undefined }, GetInput>('getDocument'),
    sendDocument: notProvided<SendOutput, SendInput>('sendDocument'),
    /** Server time minus local time, seconds (from the server's Time resource). */
    readTimeOffset: notProvided<number, { href: string }>('readTimeOffset'),
    /** The site's EndDevice href from the fleet's index of the EndDeviceList (undefined: not registered). */
    findEndDevice: notProvided<FindOutput, FindInput>('findEndDevice'),
  },
  guards: {
    retryable: ({ context, event }) =>
      isTransient(errorOf(event), context.attempts) && (context.policy.maxAttempts === undefined || context.attempts + 1 < context.policy.maxAttempts),
    transient: ({ context, event }) => isTransient(errorOf(event), context.attempts),
    untrusted: ({ event }) => isTrust(errorOf(event)),
    statusIs: ({ event }, params: { status: number[] }) => params.status.includes(errorOf(event).status ?? -1),
    conflictOnce: ({ context, event }, params: { status: number[] }) => !context.relisted && params.status.includes(errorOf(event).status ?? -1),
    hasTimeHref: ({ context }) => context.timeHref !== undefined,
    isSchemaError: ({ event }) => errorOf(event).kind === 'schema',
    hasEndDeviceList: ({ event }) => outputOf<{ doc: Sep2Documents['DeviceCapability'] }>(event).doc.endDeviceListLink !== undefined,
    /** An empty list needs no reading (CSIP-AUS ALL-02), unless what we know of it is stale. */
    found: ({ event }) => outputOf<FindOutput>(event).href !== undefined,
    inBand: ({ context }) => context.policy.inBandRegistration,
    notYetRelisted: ({ context }) => !context.relisted,
    hasLocation: ({ event }) => outputOf<SendOutput>(event).location !== undefined,
    checkPin: ({ context }) => context.site.pin !== undefined && context.endDevice?.registrationLink !== undefined,
    hasPin: ({ context }) => context.site.pin !== undefined,
    pinMatches: ({ context, event }) => Number(outputOf<{ doc: Sep2Documents['Registration'] }>(event).doc.pin) === context.site.pin,
    canPutDeviceInformation: ({ context }) =>
      context.site.deviceInformation !== undefined && (context.endDevice?.deviceInformationLink !== undefined || context.policy.legacyPathFallback),
    hasDeviceInformation: ({ context }) => context.site.deviceInformation !== undefined,
    hasDerList: ({ context }) => context.endDevice?.derListLink !== undefined,
    derListHasDer: ({ event }) => outputOf<FoundList>(event).doc.ders.some((d) => d.href !== undefined),
    mayCreateDer: ({ context }) => context.policy.createDer,
    canPutCapability: ({ context }) => context.der?.capabilityLink !== undefined || context.policy.legacyPathFallback,
    canPutSettings: ({ context }) => context.site.derSettings !== undefined && context.der?.settingsLink !== undefined,
    hasSettings: ({ context }) => context.site.derSettings !== undefined,
    canPutStatus: ({ context }) => context.site.derStatus !== undefined && context.der?.statusLink !== undefined,
    hasStatus: ({ context }) => context.site.derStatus !== undefined,
    canPutConnectionPoint: ({ context }) =>
      context.site.nmi !== undefined && (context.endDevice?.connectionPointLink !== undefined || context.policy.legacyPathFallback),
    hasNmi: ({ context }) => context.site.nmi !== undefined,
    sameNmi: ({ context, event }) => outputOf<{ doc: Sep2Documents['ConnectionPoint'] }>(event).doc.connectionPointId === context.site.nmi,
    retriesFailed: ({ context }) => (context.policy.failedRetryMs ?? DEFAULT_FAILED_RETRY_MS) > 0,
  },
  actions: {
    progress: emit(({ context }, params: { step: string; detail?: string }) => ({ type: 'progress' as const, site: context.site.name, step: params.step, ...(params.detail ? { detail: params.detail } : {}) })),
    /**
     * Takes the CSIP-AUS namespace from the server's own documents when configured `auto` (reference §3.1): a
     * CSIP-AUS namespace declared or used in any document read counts, and the version it names is the one sent.
     */
    noteNamespace: assign({
      csipaus: ({ context, event }) => {
        if (context.policy.csipaus === 'none') return undefined;
        if (context.policy.csipaus !== 'auto') return context.policy.csipaus;
        return outputOf<{ csipaus: '1.2' | '1.3' | undefined }>(event).csipaus ?? context.csipaus;
      },
    }),
    assignCapability: assign(({ event }) => {
      const doc = outputOf<{ doc: Sep2Documents['DeviceCapability'] }>(event).doc;
      const list = doc.endDeviceListLink!;
      return { endDeviceList: { href: list.href, all: list.all ?? -1 }, timeHref: doc.timeLink?.href, pollRateMs: doc.pollRate !== undefined ? doc.pollRate * 1000 : undefined };
    }),
    assignTimeOffset: assign({ timeOffsetSeconds: ({ event }) => outputOf<number>(event) }),
    assignFoundEndDevice: assign({ endDeviceHref: ({ event }) => outputOf<FindOutput>(event).href, directoryStale: false }),
    assignLocation: assign({ endDeviceHref: ({ event }) => outputOf<SendOutput>(event).location }),
    markRelisted: assign({ relisted: true, directoryStale: true }),
    markStale: assign({ directoryStale: true }),
    assignEndDevice: assign({ endDevice: ({ event }) => outputOf<{ doc: Sep2Documents['EndDevice'] }>(event).doc }),
    markDeviceInformation: assign({ deviceInformationSupported: (_, params: { supported: boolean }) => params.supported }),
    assignDerListHref: assign({ derListHref: ({ context }) => context.endDevice?.derListLink?.href }),
    assignFirstDer: assign({ derHref: ({ event }) => outputOf<FoundList>(event).doc.ders.find((d) => d.href !== undefined)?.href }),
    assignDerLocation: assign({ derHref: ({ event }) => outputOf<SendOutput>(event).location }),
    assignDer: assign({ der: ({ event }) => outputOf<{ doc: Sep2Documents['DER'] }>(event).doc }),
    resetAttempts: assign({ attempts: 0 }),
    /** The next delay: the server's hint when it gives one (capped), else capped exponential back-off with jitter. */
    recordRetry: assign(({ context, event }) => {
      const error = errorOf(event);
      const attempts = context.attempts + 1;
      const policy = context.policy;
      const hint = serverHintMs(error);
      const retryDelayMs = hint !== undefined
        ? Math.min(hint, policy.retryAfterMaxMs ?? DEFAULT_HINT_CAP_MS)
        : backoffDelayMs(attempts, { baseMs: policy.retryBaseMs, maxMs: policy.retryMaxMs, jitter: policy.retryJitter ?? 0.5 }, jitterDraw(context.site.lfdi, attempts));
      return { attempts, retryDelayMs, lastError: failureFrom(event, 'unreachable', 'retry') };
    }),
    emitRetrying: emit(({ context }, params: { step: string }) => ({
      type: 'retrying' as const, site: context.site.name, step: params.step, attempt: context.attempts, delayMs: context.retryDelayMs,
      reason: context.lastError?.message ?? '', error: { ...context.lastError!, step: params.step },
    })),
    fail: assign({ failure: ({ event }, params: { code: FailureCode; step: string }) => failureFrom(event, params.code, params.step) }),
    failWith: assign({ failure: (_, params: Failure) => params }),
    /** A step not done: kept for the summary and announced (feed, log). */
    skip: enqueueActions(({ context, enqueue }, params: { step: string; reason: string }) => {
      enqueue.assign({ skipped: [...context.skipped.filter((s) => s.step !== params.step), { step: params.step, reason: params.reason }] });
      enqueue.emit({ type: 'skipped', site: context.site.name, step: params.step, reason: params.reason });
    }),
    emitFailed: emit(({ context }) => ({
      type: 'failed' as const, site: context.site.name, failure: context.failure!,
      retryInMs: (context.policy.failedRetryMs ?? DEFAULT_FAILED_RETRY_MS) > 0 ? context.policy.failedRetryMs ?? DEFAULT_FAILED_RETRY_MS : undefined,
    })),
    emitRegistered: emit(({ context }) => ({
      type: 'registered' as const, site: context.site.name, endDevice: context.endDeviceHref ?? '', der: context.derHref,
      csipaus: context.csipaus, deviceInformation: context.deviceInformationSupported, skipped: context.skipped,
    })),
    restart: assign(({ context }) => ({
      endDeviceList: undefined, endDevice: undefined, endDeviceHref: undefined, der: undefined, derHref: undefined, derListHref: undefined,
      relisted: false, directoryStale: true, attempts: 0, failure: undefined, lastError: undefined, skipped: [], csipaus: context.csipaus,
    })),
  },
  delays: {
    retryBackoff: ({ context }) => context.retryDelayMs,
    outOfBandPoll: ({ context }) => context.pollRateMs ?? context.policy.outOfBandPollMs,
    failedRetry: ({ context }) => context.policy.failedRetryMs ?? DEFAULT_FAILED_RETRY_MS,
  },
});

/** Legacy fallback hrefs (reference §4.2 `legacyPathFallback`): a path below the parent resource. */
export const below = (href: string | undefined, leaf: string): string => `${(href ?? '').replace(/\/$/, '')}/${leaf}`;
