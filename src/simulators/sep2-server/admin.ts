/**
 * The test server's admin API: JSON in, JSON out, the same routes in process (`handler.admin(...)`) and over HTTP
 * (`startSep2Server({ adminPort })`, `simulate sep-server --admin-port`, loopback only), so that a test or a person
 * can play the utility's part of a CACTUS procedure (docs/csip-aus-der-client.md):
 *
 *   GET    /_sim/state                       sites with their programs and controls, poll rates, communications
 *   GET    /_sim/requests?since=<seq>        recorded requests (the handler's request log)
 *   GET    /_sim/responses?since=<seq>&site=<id>   recorded DERControlResponses
 *   POST   /_sim/programs                    {site?, primacy?, description?, mrid?, defaultControl?}
 *   POST   /_sim/controls                    {site?, program? | primacy?, mrid?, start? | startInS?, duration,
 *                                             randomizeStart?, randomizeDuration?, responseRequired?, modes…}
 *   POST   /_sim/controls/cancel             {site?, mrid?, randomized?}  (no mrid: every listed control)
 *   POST   /_sim/controls/supersede          {supersede: <mrid>, site?, …control fields to change}
 *   PUT    /_sim/default-control             {site?, program?, control: {modes…, setGradW?} | null}
 *   PUT    /_sim/poll-rates                  {DERProgramList?: s, FunctionSetAssignmentsList?: s, …}
 *   PUT    /_sim/communications              {enabled: false, forMs?}  every request answers 500 (CACTUS comms loss)
 *   POST   /_sim/connections/refuse          {ms}  connections are refused for ms (socket server only, else 501)
 *   POST   /_sim/faults                      a Sep2Fault for the next matching requests     DELETE /_sim/faults
 *   GET    /_sim/telemetry, GET /_sim/mirror-usage-points, PUT /_sim/post-rate   the metering mirror (mirror-admin.ts)
 *
 * Answers: 200 (201 for creations) with the JSON result; 400 bad input, 404 unknown route or object, 409 conflict.
 */
import http from 'node:http';
import * as v from 'valibot';
import { checked } from './der-admin.js';
import { Sep2AdminError } from './der-programs.js';
import type { Sep2Handler } from './handler.js';
import { answerMirrorAdmin } from './mirror-admin.js';

export interface Sep2AdminRequest {
  method: string;
  /** Path and query, e.g. `/_sim/responses?since=3`. */
  path: string;
  /** JSON text (HTTP) or the value itself (in process); empty = `{}`. */
  body?: unknown;
}

export interface Sep2AdminAnswer {
  status: number;
  body: unknown;
}

export interface Sep2AdminExtras {
  /** Closes the listener and reopens it on the same port after `ms` (startSep2Server only). */
  refuseFor?: ((ms: number) => void) | undefined;
}

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const Millis = v.strictObject({ ms: int(0, 365 * 24 * 3600_000) });
const Communications = v.strictObject({ enabled: v.boolean(), forMs: v.optional(int(1, 365 * 24 * 3600_000)) });
const Fault = v.strictObject({
  status: v.picklist([429, 500, 503]), times: v.optional(int(1, 1_000_000)), maxRetryDuration: v.optional(int(0, 0xffff)),
  method: v.optional(v.string()), pathIncludes: v.optional(v.string()),
});

function jsonBody(body: unknown): unknown {
  if (body === undefined) return {};
  if (typeof body !== 'string') return body;
  if (body.trim() === '') return {};
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new Sep2AdminError(400, `body is not valid JSON: ${(error as Error).message}`);
  }
}

const ERROR_NAMES: Record<Sep2AdminError['status'], string> = { 400: 'badRequest', 404: 'notFound', 409: 'conflict', 501: 'notImplemented' };

const since = (query: URLSearchParams): number => Number(query.get('since') ?? 0) || 0;

export function answerAdmin(handler: Sep2Handler, request: Sep2AdminRequest, extras: Sep2AdminExtras = {}): Sep2AdminAnswer {
  const url = new URL(request.path, 'http://admin');
  const route = `${request.method.toUpperCase()} ${url.pathname}`;
  try {
    const body = (): unknown => jsonBody(request.body);
    switch (route) {
      case 'GET /_sim/state': return { status: 200, body: handler.describe() };
      case 'GET /_sim/requests': return { status: 200, body: handler.state.requests.filter((entry) => entry.seq > since(url.searchParams)) };
      case 'GET /_sim/responses': {
        const site = url.searchParams.get('site');
        return { status: 200, body: handler.state.responses.filter((entry) => entry.seq > since(url.searchParams) && (site === null || entry.site === site)) };
      }
      case 'POST /_sim/programs': return { status: 201, body: handler.createProgram(body() as never) };
      case 'POST /_sim/controls': return { status: 201, body: handler.createControl(body() as never) };
      case 'POST /_sim/controls/cancel': return { status: 200, body: handler.cancelControl(body() as never) };
      case 'POST /_sim/controls/supersede': return { status: 201, body: handler.supersedeControl(body() as never) };
      case 'PUT /_sim/default-control': return { status: 200, body: handler.setDefaultControl(body() as never) };
      case 'PUT /_sim/poll-rates': return { status: 200, body: handler.setPollRates(body() as never) };
      case 'PUT /_sim/communications': {
        handler.setCommunications(checked(Communications, body(), 'communications'));
        return { status: 200, body: handler.describe().communications };
      }
      case 'POST /_sim/connections/refuse': {
        const { ms } = checked(Millis, body(), 'refuse');
        if (!extras.refuseFor) throw new Sep2AdminError(501, 'Refusing connections needs the socket server (startSep2Server).');
        extras.refuseFor(ms);
        return { status: 200, body: { refusingForMs: ms } };
      }
      case 'POST /_sim/faults': {
        const fault = checked(Fault, body(), 'fault');
        handler.injectFault(fault);
        return { status: 200, body: handler.state.faults };
      }
      case 'DELETE /_sim/faults': {
        handler.state.faults.splice(0);
        return { status: 200, body: handler.state.faults };
      }
      default: return answerMirrorAdmin(handler.mirrors, handler.state.sites, route, url.searchParams, body)
        ?? { status: 404, body: { error: 'notFound', message: `no admin route ${route}` } };
    }
  } catch (error) {
    if (error instanceof Sep2AdminError) return { status: error.status, body: { error: ERROR_NAMES[error.status], message: error.message } };
    if (error instanceof RangeError) return { status: 400, body: { error: 'badRequest', message: error.message } };
    return { status: 500, body: { error: 'internal', message: (error as Error)?.message ?? String(error) } };
  }
}

/** The admin API over HTTP (bind it to loopback: it has no authentication). */
export function createSep2AdminServer(handler: Sep2Handler, extras: Sep2AdminExtras): http.Server {
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= 1024 * 1024) chunks.push(chunk);
    });
    req.on('end', () => {
      const answer = size > 1024 * 1024
        ? { status: 413, body: { error: 'tooLarge', message: 'admin bodies are limited to 1 MiB' } }
        : answerAdmin(handler, { method: req.method ?? 'GET', path: req.url ?? '/', body: Buffer.concat(chunks).toString('utf8') }, extras);
      res.writeHead(answer.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
}
