/**
 * The IEEE 2030.5 / CSIP-AUS test server as a pure, synchronous request → response function (reference §5). The
 * socket layer (index.ts) only reads bodies and establishes the client LFDI; everything else — identity rules,
 * routing, validation, state, fault injection and the request log — lives here, so the registration client's
 * dry-run mode can run against the same handler in process.
 *
 * Order of work per request: injected fault (a proxy/rate limiter in front) → identity (500 without one, §2.5;
 * 403 for an unrecognised certificate) → route (404) → envoy's aggregator EndDevice `/edev/0` (read-only, 403 for
 * anything else, §3.4) → method (405 + Allow) → resource handler. Any unexpected error is a 500 Error
 * (reasonCode 16384), never a crash.
 *
 * DER function set (der-programs.ts, der-function-set.ts): FunctionSetAssignments, DERPrograms, controls and the
 * DERControlResponses the client posts, driven by the admin methods below (der-admin.ts) or their JSON form
 * `admin(...)` (admin.ts). `setCommunications({ enabled: false })` answers every request with CACTUS's comms-loss
 * 500 (`COMMS DISABLED`, text/plain) before anything else, recorded like any other.
 *
 * The seed profile accepts envoy-client 0.1.1's wire format (seed-compat.ts); each deviation it accepts in a request
 * is recorded in that request's `warnings` and passed to `onWarning` (default: stderr) once the request is answered.
 */
import { loadXsdValidators } from '../../adapters/sep2/xsd.js';
import { classifyClient, hasVirtualEndDevice } from './access.js';
import { answerAdmin, type Sep2AdminAnswer, type Sep2AdminRequest } from './admin.js';
import { getConnectionPoint, putConnectionPoint } from './connection-point.js';
import type { Reply, RequestContext } from './context.js';
import {
  controlView, DerAdmin, programView, type CancelInput, type ControlInput, type ControlView, type DefaultInput, type ProgramInput, type ProgramView,
  type SupersedeInput,
} from './der-admin.js';
import {
  findProgram, getActiveDerControlList, getDefaultDerControl, getDerControl, getDerControlList, getDerProgram, getDerProgramList,
  getFunctionSetAssignments, getFunctionSetAssignmentsList, postResponse,
} from './der-function-set.js';
import { DerProgramStore, type Sep2RecordedResponse } from './der-programs.js';
import { findDer, getDer, getDerList, getDerResource, getDeviceInformation, postDer, putDerResource, putDeviceInformation } from './der-resources.js';
import { errorDocument } from './documents.js';
import {
  deleteEndDevice, getEmptyList, getEndDevice, getEndDeviceList, getRegistration, getTime,
  getVirtualEndDevice, postEndDevice, visibleSite,
} from './end-devices.js';
import { forbidden, methodNotAllowed, MISSING_IDENTITY, notFound, Sep2Refusal } from './errors.js';
import { getDeviceCapabilityWithMirrors, getMirrorUsagePoint, getMirrorUsagePointList, postMirrorReading, postMirrorUsagePoint } from './mirror-resources.js';
import { MirrorStore } from './mirror-store.js';
import { FaultQueue, type InjectedFault, type Sep2Fault } from './faults.js';
import type { InboundContext } from './inbound.js';
import { resolveSep2Options, type ResolvedSep2Options, type Sep2PollRateKind, type Sep2ServerOptions } from './options.js';
import { RequestLog, type RecordedRequest } from './request-log.js';
import { allowedMethods, matchRoute, type Route } from './routes.js';
import { checkHeaders, type Warn } from './seed-compat.js';
import { SiteStore, VIRTUAL_EDEV_ID, type Sep2Site } from './store.js';

export interface Sep2Request {
  method: string;
  /** Path + query as sent. */
  path: string;
  headers: Record<string, string | undefined>;
  body: string;
  /** From the TLS peer certificate or the forwarded header; undefined = no identity. */
  clientLfdi: string | undefined;
}

export interface Sep2Response {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Sep2ServerState {
  readonly options: ResolvedSep2Options;
  /** Live: the sites as stored, in creation order. */
  readonly sites: Sep2Site[];
  /** Live: every request answered, oldest first. */
  readonly requests: RecordedRequest[];
  /** Live: injected faults still pending. */
  readonly faults: InjectedFault[];
  /** Whether inbound bodies are XSD-validated (validateXsd on and sep.xsd found). */
  readonly xsdValidation: boolean;
  /** Live: every DERControlResponse accepted, oldest first. */
  readonly responses: Sep2RecordedResponse[];
}

/** The communications switch (CACTUS `communications-status`). */
export interface Sep2Communications {
  enabled: boolean;
  /** When a timed outage ends (server clock, epoch ms); null when enabled or down until switched back. */
  untilMs: number | null;
}

/** What GET /_sim/state answers. */
export interface Sep2AdminState {
  now: number;
  sites: { id: string; href: string; lfdi: string; programs: (ProgramView & { controls: ControlView[] })[] }[];
  pollRates: Record<Sep2PollRateKind, number>;
  communications: Sep2Communications;
  responses: number;
  lastRequestSeq: number;
}

export interface Sep2Handler {
  /** Synchronous, pure in-memory. */
  dispatch(req: Sep2Request): Sep2Response;
  state: Sep2ServerState;
  injectFault(f: Sep2Fault): void;
  /**
   * Addition, for tests that play CACTUS's "on request received, before it is served" triggers: called with each
   * request before it is answered, so that admin changes made in it already show in the answer.
   */
  beforeAnswer: ((request: { method: string; path: string }) => void) | undefined;
  /** Addition: records a request the transport refused itself (413, bad framing) and builds its Error answer. */
  answerError(req: Sep2Request, status: number, message: string): Sep2Response;
  /** Creates a DERProgram for a site, or for every site registered now (one each). */
  createProgram(input: ProgramInput): ProgramView[];
  /** Creates a DERControl (per site); overlapping same-mode controls of its program become superseded. */
  createControl(input: ControlInput): ControlView[];
  /** Cancels one control (by mRID) or every listed one of the site(s): status 2, or 3 `randomized`. */
  cancelControl(input: CancelInput): ControlView[];
  /** A newer overlapping control in the same program: the new one first, then those it superseded (status 4). */
  supersedeControl(input: SupersedeInput): ControlView[];
  /** Sets, replaces or (control null) clears a program's DefaultDERControl. */
  setDefaultControl(input: DefaultInput): ProgramView[];
  /** Changes the pollRate of some resources at once; returns them all. */
  setPollRates(rates: Partial<Record<Sep2PollRateKind, number>>): Record<Sep2PollRateKind, number>;
  /** enabled false: every request answers 500 `COMMS DISABLED`, for `forMs` (server clock) or until enabled again. */
  setCommunications(input: { enabled: boolean; forMs?: number | undefined }): void;
  /** Sites, programs, controls (with their status now), poll rates and the communications switch. */
  describe(): Sep2AdminState;
  /** The metering mirror: MirrorUsagePoints and the telemetry received (mirror-store.ts). */
  mirrors: MirrorStore;
  /** The admin API in process (admin.ts); the socket server's `refuseFor` is not available here (501). */
  admin(request: Sep2AdminRequest): Sep2AdminAnswer;
}

/** The CACTUS proxy's answer while communications are disabled (docs/csip-aus-der-client.md §0). */
export const COMMS_DISABLED_BODY = 'COMMS DISABLED';

export const SEP_CONTENT_TYPE = 'application/sep+xml';
const LFDI = /^[0-9A-Fa-f]{40}$/;

export function createSep2Handler(input: Sep2ServerOptions): Sep2Handler {
  const options = resolveSep2Options(input);
  const store = new SiteStore(options);
  const programs = new DerProgramStore();
  const derAdmin = new DerAdmin(options, store, programs);
  const mirrors = new MirrorStore(options.hrefPrefix, options.pollRates.MirrorUsagePointList);
  let commsDown: { untilMs: number | null } | undefined;
  const faults = new FaultQueue();
  const log = new RequestLog(options.requestLogLimit);
  const validators = options.validateXsd ? loadXsdValidators() : undefined;
  const startedSeconds = Math.floor(options.now() / 1000);

  function refusalResponse(refusal: Sep2Refusal): Sep2Response {
    const headers: Record<string, string> = { 'Content-Type': SEP_CONTENT_TYPE };
    if (refusal.extra.allow) headers.Allow = refusal.extra.allow.join(', ');
    if (refusal.extra.maxRetryDuration !== undefined) headers['Retry-After'] = String(refusal.extra.maxRetryDuration);
    return { status: refusal.status, headers, body: errorDocument(refusal, options) };
  }

  function replyResponse(reply: Reply): Sep2Response {
    const headers: Record<string, string> = { 'Content-Type': SEP_CONTENT_TYPE };
    if (reply.location) headers.Location = reply.location;
    return { status: reply.status, headers, body: reply.body };
  }

  function handle(req: Sep2Request, method: string, pathname: string, query: URLSearchParams, warn: Warn): Reply {
    if (options.profile === 'seed') checkHeaders(method, lowerCased(req.headers), req.body, warn);
    const fault = faults.take(method, req.path);
    if (fault) throw new Sep2Refusal(fault.status, undefined, { maxRetryDuration: fault.maxRetryDuration });
    if (req.clientLfdi === undefined || !LFDI.test(req.clientLfdi)) throw new Sep2Refusal(500, MISSING_IDENTITY);
    const client = classifyClient(req.clientLfdi, options, store);
    const route = matchRoute(pathname, options);
    if (!route) throw notFound(`No resource at ${pathname}.`);
    const inbound: InboundContext = { options, validators, warn };
    const ctx: RequestContext = {
      options, store, programs, inbound, client, method: method === 'HEAD' ? 'GET' : method, query, body: req.body,
      nowSeconds: Math.floor(options.now() / 1000), startedSeconds,
    };
    if ('edevId' in route && route.edevId === VIRTUAL_EDEV_ID && hasVirtualEndDevice(client, options)) return virtual(ctx, route);
    const allow = allowedMethods(route, options);
    if (!allow.includes(method)) throw methodNotAllowed(method, allow);
    return resource(ctx, route);
  }

  /** envoy's aggregator EndDevice: readable, with its (empty) SubscriptionList; everything else 403 (§3.4). */
  function virtual(ctx: RequestContext, route: Route): Reply {
    if (ctx.method === 'GET' && route.kind === 'edev') return getVirtualEndDevice(ctx);
    if (ctx.method === 'GET' && route.kind === 'sub') return getEmptyList(ctx, 'SubscriptionList', `${ctx.store.virtualHref()}/sub`);
    throw forbidden('The aggregator EndDevice cannot be modified and has no Registration, DER or ConnectionPoint.');
  }

  function resource(ctx: RequestContext, route: Route): Reply {
    const get = ctx.method === 'GET';
    switch (route.kind) {
      case 'dcap': return getDeviceCapabilityWithMirrors(ctx, mirrors);
      case 'time': return getTime(ctx);
      case 'mup': return get ? getMirrorUsagePointList(ctx, mirrors) : postMirrorUsagePoint(ctx, mirrors);
      case 'mupItem': return get ? getMirrorUsagePoint(ctx, mirrors, route.mupId) : postMirrorReading(ctx, mirrors, route.mupId);
      case 'edevList': return get ? getEndDeviceList(ctx) : postEndDevice(ctx);
      default: break;
    }
    const site = visibleSite(ctx, route.edevId);
    switch (route.kind) {
      case 'edev': return get ? getEndDevice(ctx, site) : deleteEndDevice(ctx, site);
      case 'rg': return getRegistration(ctx, site);
      case 'fsa': return getFunctionSetAssignmentsList(ctx, site);
      case 'fsaItem': return getFunctionSetAssignments(ctx, site, route.fsaId);
      case 'derpList': return getDerProgramList(ctx, site, route.fsaId === undefined ? `${site.href}/derp` : `${site.href}/fsa/${route.fsaId}/derp`, route.fsaId);
      case 'responses': return postResponse(ctx, site, route.responseSet);
      case 'sub': return getEmptyList(ctx, 'SubscriptionList', `${site.href}/sub`);
      case 'di': return get ? getDeviceInformation(ctx, site) : putDeviceInformation(ctx, site);
      case 'cp': return get ? getConnectionPoint(ctx, site) : putConnectionPoint(ctx, site);
      case 'derList': return get ? getDerList(ctx, site) : postDer(ctx, site);
      case 'derProgram': case 'dderc': case 'dercList': case 'actderc': case 'derControl': return program(ctx, site, route);
      default: break;
    }
    const der = findDer(site, route.derId);
    switch (route.kind) {
      case 'der': return getDer(ctx, site, der);
      case 'derp': return getDerProgramList(ctx, site, `${der.href}/derp`);
      case 'derResource': return get ? getDerResource(ctx, der, route.resource) : putDerResource(ctx, der, route.resource);
    }
  }

  function program(ctx: RequestContext, site: Sep2Site, route: Extract<Route, { derpId: string }>): Reply {
    const found = findProgram(ctx, site, route.derpId);
    switch (route.kind) {
      case 'derProgram': return getDerProgram(ctx, found);
      case 'dderc': return getDefaultDerControl(ctx, found);
      case 'dercList': return getDerControlList(ctx, found);
      case 'actderc': return getActiveDerControlList(ctx, found);
      case 'derControl': return getDerControl(ctx, found, route.dercId);
    }
  }

  /** Whether communications are down now (a timed outage ends by itself on the server clock). */
  function communicationsDown(): boolean {
    if (commsDown?.untilMs !== undefined && commsDown.untilMs !== null && options.now() >= commsDown.untilMs) commsDown = undefined;
    return commsDown !== undefined;
  }

  function describe(): Sep2AdminState {
    const now = Math.floor(options.now() / 1000);
    const down = communicationsDown();
    return {
      now,
      sites: store.sites.map((site) => ({
        id: site.id, href: site.href, lfdi: site.lfdi,
        programs: programs.programs(site).map((entry) => ({ ...programView(entry), controls: entry.controls.map((control) => controlView(control, now)) })),
      })),
      pollRates: { ...options.pollRates },
      communications: { enabled: !down, untilMs: down ? commsDown!.untilMs : null },
      responses: programs.responses.length,
      lastRequestSeq: log.entries.at(-1)?.seq ?? 0,
    };
  }

  function record(req: Sep2Request, response: Sep2Response, warnings: string[] = []): Sep2Response {
    const [pathOnly = '', search = ''] = splitTarget(req.path);
    const query: Record<string, string> = {};
    for (const [key, value] of new URLSearchParams(search)) if (!(key in query)) query[key] = value;
    log.add({
      atMs: options.now(), method: req.method, path: pathOnly, query, headers: { ...req.headers }, body: req.body,
      clientLfdi: req.clientLfdi?.toUpperCase(), status: response.status, responseBody: response.body,
      ...(response.headers.Location ? { location: response.headers.Location } : {}),
      warnings,
    });
    for (const message of warnings) {
      try {
        options.onWarning({ method: req.method, path: pathOnly, message });
      } catch {
        // a failing sink must not turn an answered request into a crash
      }
    }
    return response;
  }

  const handler: Sep2Handler = {
    beforeAnswer: undefined,
    dispatch(req) {
      handler.beforeAnswer?.({ method: req.method.toUpperCase(), path: splitTarget(req.path)[0] });
      if (communicationsDown()) return record(req, { status: 500, headers: { 'Content-Type': 'text/plain' }, body: COMMS_DISABLED_BODY });
      let response: Sep2Response;
      const warnings: string[] = [];
      const warn: Warn = (message) => void (warnings.includes(message) ? undefined : warnings.push(message));
      try {
        const [pathname, search] = splitTarget(req.path);
        response = replyResponse(handle(req, req.method.toUpperCase(), pathname, new URLSearchParams(search), warn));
      } catch (error) {
        const refusal = error instanceof Sep2Refusal ? error : new Sep2Refusal(500, `Internal server error: ${(error as Error)?.message ?? String(error)}`);
        response = refusalResponse(refusal);
      }
      return record(req, response, warnings);
    },
    state: {
      options,
      sites: store.sites,
      requests: log.entries,
      faults: faults.active,
      xsdValidation: validators !== undefined,
      responses: programs.responses,
    },
    injectFault: (fault) => faults.add(fault),
    answerError: (req, status, message) => record(req, refusalResponse(new Sep2Refusal(status, message))),
    createProgram: (input) => derAdmin.createProgram(input),
    createControl: (input) => derAdmin.createControl(input),
    cancelControl: (input) => derAdmin.cancelControl(input),
    supersedeControl: (input) => derAdmin.supersedeControl(input),
    setDefaultControl: (input) => derAdmin.setDefaultControl(input),
    setPollRates: (rates) => derAdmin.setPollRates(rates),
    setCommunications({ enabled, forMs }) {
      if (forMs !== undefined && !(Number.isInteger(forMs) && forMs > 0)) throw new RangeError(`forMs must be a positive integer (got ${forMs})`);
      if (enabled) commsDown = undefined;
      else commsDown = { untilMs: forMs === undefined ? null : options.now() + forMs };
    },
    describe,
    mirrors,
    admin: (request) => answerAdmin(handler, request),
  };
  return handler;
}

/** Header names as HTTP compares them (the socket layer lower-cases them already; in-process callers may not). */
function lowerCased(headers: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] ??= value;
  return out;
}

/** Splits a request target into path and query without resolving it (`//host/x` stays a path). */
function splitTarget(target: string): [string, string] {
  const index = target.indexOf('?');
  return index < 0 ? [target, ''] : [target.slice(0, index), target.slice(index + 1)];
}
