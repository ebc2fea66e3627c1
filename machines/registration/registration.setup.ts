/**
 * The named parts of the registration statechart: placeholder actors (the real ones come from
 * src/adapters/sep2/registration.actors.ts through `.provide()`), guards, actions and the retry delay.
 */
import { assign, emit, fromPromise, setup } from 'xstate';
import { lfdiEquals } from '../../src/domain/sep2-identity.js';
import type { Sep2Documents } from '../../src/domain/sep2-resources.js';
import type {
  Failure, FailureCode, GetInput, RegistrationContext, RegistrationEmitted, RegistrationEvent, RegistrationInput, SendInput, SendOutput,
} from './registration.types.js';

const missing = (name: string) => fromPromise<never, unknown>(async () => {
  throw new Error(`actor "${name}" was not provided; inject it with machine.provide()`);
});

/** What the statechart reads of a failed request (a ControllerError, or Sep2HttpError with the `Error` body). */
interface RequestError {
  kind?: string;
  status?: number;
  retryable?: boolean;
  message?: string;
  errorBody?: { reasonCode: number; maxRetryDuration: number | undefined; message: string | undefined };
}
const errorOf = (event: unknown): RequestError => ((event as { error?: unknown }).error ?? {}) as RequestError;
const outputOf = <T>(event: unknown): T => (event as { output: T }).output;

/** Transport errors, 5xx and 429 are retried (reference §4.7); everything else is permanent. */
const isTransient = (error: RequestError): boolean =>
  error.kind === 'transport' || error.status === 429 || (error.status !== undefined && error.status >= 500);

/** 429 without a hint: 5 s, 15 s, 30 s (reference §4.7). */
const TOO_MANY_BACKOFF_MS = [5_000, 15_000, 30_000];

function failureFrom(event: unknown, code: FailureCode, step: string): Failure {
  const error = errorOf(event);
  const body = error.errorBody;
  return {
    code, step, message: error.message ?? 'request failed',
    ...(error.status !== undefined ? { status: error.status } : {}),
    ...(body ? { reasonCode: body.reasonCode, serverMessage: body.message } : {}),
  };
}

export const registrationSetup = setup({
  types: {
    context: {} as RegistrationContext,
    events: {} as RegistrationEvent,
    input: {} as RegistrationInput,
    emitted: {} as RegistrationEmitted,
  },
  actors: {
    getDocument: missing('getDocument') as unknown as ReturnType<typeof fromPromise<{ doc: unknown; csipaus: '1.2' | '1.3' | undefined }, GetInput>>,
    sendDocument: missing('sendDocument') as unknown as ReturnType<typeof fromPromise<SendOutput, SendInput>>,
    /** Server time minus local time, seconds (from the server's Time resource). */
    readTimeOffset: missing('readTimeOffset') as unknown as ReturnType<typeof fromPromise<number, { href: string }>>,
  },
  guards: {
    retryable: ({ context, event }) => isTransient(errorOf(event)) && context.attempts + 1 < context.policy.maxAttempts,
    transient: ({ event }) => isTransient(errorOf(event)),
    statusIs: ({ event }, params: { status: number[] }) => params.status.includes(errorOf(event).status ?? -1),
    conflictOnce: ({ context, event }, params: { status: number[] }) => !context.relisted && params.status.includes(errorOf(event).status ?? -1),
    hasTimeHref: ({ context }) => context.timeHref !== undefined,
    isSchemaError: ({ event }) => errorOf(event).kind === 'schema',
    hasEndDeviceList: ({ event }) => outputOf<{ doc: Sep2Documents['DeviceCapability'] }>(event).doc.endDeviceListLink !== undefined,
    listEmpty: ({ context }) => context.endDeviceList?.all === 0,
    foundInPage: ({ context, event }) =>
      outputOf<{ doc: Sep2Documents['EndDeviceList'] }>(event).doc.endDevices.some((d) => d.lfdi !== undefined && lfdiEquals(d.lfdi, context.site.lfdi)),
    morePages: ({ context, event }) => {
      const page = outputOf<{ doc: Sep2Documents['EndDeviceList'] }>(event).doc;
      const seen = context.paging.seen + page.endDevices.length;
      return page.endDevices.length > 0 && seen < page.all && context.paging.pages + 1 < context.policy.maxPages;
    },
    inBand: ({ context }) => context.policy.inBandRegistration,
    notYetRelisted: ({ context }) => !context.relisted,
    hasLocation: ({ event }) => outputOf<SendOutput>(event).location !== undefined,
    checkPin: ({ context }) => context.site.pin !== undefined && context.endDevice?.registrationLink !== undefined,
    pinMatches: ({ context, event }) => Number(outputOf<{ doc: Sep2Documents['Registration'] }>(event).doc.pin) === context.site.pin,
    canPutDeviceInformation: ({ context }) =>
      context.site.deviceInformation !== undefined && (context.endDevice?.deviceInformationLink !== undefined || context.policy.legacyPathFallback),
    hasDeviceInformation: ({ context }) => context.site.deviceInformation !== undefined,
    hasDerList: ({ context }) => context.endDevice?.derListLink !== undefined,
    derListHasDer: ({ event }) => outputOf<{ doc: Sep2Documents['DERList'] }>(event).doc.ders.some((d) => d.href !== undefined),
    mayCreateDer: ({ context }) => context.policy.createDer,
    canPutCapability: ({ context }) => context.der?.capabilityLink !== undefined || context.policy.legacyPathFallback,
    canPutSettings: ({ context }) => context.site.derSettings !== undefined && context.der?.settingsLink !== undefined,
    canPutStatus: ({ context }) => context.site.derStatus !== undefined && context.der?.statusLink !== undefined,
    canPutConnectionPoint: ({ context }) =>
      context.site.nmi !== undefined && (context.endDevice?.connectionPointLink !== undefined || context.policy.legacyPathFallback),
    sameNmi: ({ context, event }) => outputOf<{ doc: Sep2Documents['ConnectionPoint'] }>(event).doc.connectionPointId === context.site.nmi,
  },
  actions: {
    progress: emit(({ context }, params: { step: string; detail?: string }) => ({ type: 'progress' as const, site: context.site.name, step: params.step, ...(params.detail ? { detail: params.detail } : {}) })),
    /** Takes the CSIP-AUS namespace from the server's own documents when configured `auto` (reference §3.1). */
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
    resetPaging: assign({ paging: { start: 0, seen: 0, pages: 0 } }),
    nextPage: assign({
      paging: ({ context, event }) => {
        const n = outputOf<{ doc: Sep2Documents['EndDeviceList'] }>(event).doc.endDevices.length;
        return { start: context.paging.start + n, seen: context.paging.seen + n, pages: context.paging.pages + 1 };
      },
    }),
    assignFoundEndDevice: assign({
      endDeviceHref: ({ context, event }) =>
        outputOf<{ doc: Sep2Documents['EndDeviceList'] }>(event).doc.endDevices.find((d) => d.lfdi !== undefined && lfdiEquals(d.lfdi, context.site.lfdi))?.href,
    }),
    assignLocation: assign({ endDeviceHref: ({ event }) => outputOf<SendOutput>(event).location }),
    markRelisted: assign({ relisted: true }),
    assignEndDevice: assign({ endDevice: ({ event }) => outputOf<{ doc: Sep2Documents['EndDevice'] }>(event).doc }),
    markDeviceInformation: assign({ deviceInformationSupported: (_, params: { supported: boolean }) => params.supported }),
    assignDerListHref: assign({ derListHref: ({ context }) => context.endDevice?.derListLink?.href }),
    assignFirstDer: assign({ derHref: ({ event }) => outputOf<{ doc: Sep2Documents['DERList'] }>(event).doc.ders.find((d) => d.href !== undefined)?.href }),
    assignDerLocation: assign({ derHref: ({ event }) => outputOf<SendOutput>(event).location }),
    assignDer: assign({ der: ({ event }) => outputOf<{ doc: Sep2Documents['DER'] }>(event).doc }),
    resetAttempts: assign({ attempts: 0 }),
    recordRetry: assign(({ context, event }) => {
      const error = errorOf(event);
      const attempts = context.attempts + 1;
      const retryDelayMs = error.status === 429
        ? (error.errorBody?.maxRetryDuration !== undefined ? error.errorBody.maxRetryDuration * 1000 : TOO_MANY_BACKOFF_MS[Math.min(attempts - 1, 2)]!)
        : Math.min(context.policy.retryBaseMs * 2 ** (attempts - 1), context.policy.retryMaxMs);
      return { attempts, retryDelayMs, lastError: failureFrom(event, 'unreachable', 'retry') };
    }),
    emitRetrying: emit(({ context }, params: { step: string }) => ({
      type: 'retrying' as const, site: context.site.name, step: params.step, attempt: context.attempts, delayMs: context.retryDelayMs, reason: context.lastError?.message ?? '',
    })),
    fail: assign({ failure: ({ event }, params: { code: FailureCode; step: string }) => failureFrom(event, params.code, params.step) }),
    failWith: assign({ failure: (_, params: Failure) => params }),
    emitFailed: emit(({ context }) => ({ type: 'failed' as const, site: context.site.name, failure: context.failure! })),
    emitRegistered: emit(({ context }) => ({
      type: 'registered' as const, site: context.site.name, endDevice: context.endDeviceHref ?? '', der: context.derHref,
      csipaus: context.csipaus, deviceInformation: context.deviceInformationSupported,
    })),
    restart: assign(({ context }) => ({
      endDeviceList: undefined, endDevice: undefined, endDeviceHref: undefined, der: undefined, derHref: undefined, derListHref: undefined,
      relisted: false, attempts: 0, failure: undefined, lastError: undefined, paging: { start: 0, seen: 0, pages: 0 }, csipaus: context.csipaus,
    })),
  },
  delays: {
    retryBackoff: ({ context }) => context.retryDelayMs,
    outOfBandPoll: ({ context }) => context.pollRateMs ?? context.policy.outOfBandPollMs,
  },
});

/** Legacy fallback hrefs (reference §4.2 `legacyPathFallback`): a path below the parent resource. */
export const below = (href: string | undefined, leaf: string): string => `${(href ?? '').replace(/\/$/, '')}/${leaf}`;
