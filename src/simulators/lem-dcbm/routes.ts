/**
 * HTTP routing for the simulated meter (reference §3, §5.1, §5.3). Maps a request to a device operation,
 * applies injected response faults, and renders device refusals with the configured status and body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiVersion } from '../../domain/firmware.js';
import { DeviceReject, type MeterDevice, type RecordSelector } from './device.js';
import type { EndpointName, FaultInjector, ResponseFault } from './faults.js';
import type { RejectionKind } from './options.js';
import type { RequestLog } from './request-log.js';

export const MAX_BODY_BYTES = 64 * 1024;

interface Route {
  endpoint: EndpointName;
  api: ApiVersion;
  /** Sub-path after the endpoint: `undefined`, a slot `n` or an age `-n`. */
  selectorText: string | undefined;
}

interface Reply {
  status: number;
  body: string;
  contentType: string;
  closeConnection?: boolean;
}

const json = (status: number, value: unknown): Reply => ({ status, body: JSON.stringify(value), contentType: 'application/json' });
const V1_ONLY: ReadonlySet<EndpointName> = new Set(['status', 'settings', 'certificate', 'logbook']);
const WITH_SELECTOR: ReadonlySet<EndpointName> = new Set(['legal', 'ocmf']);
const METHODS: Record<EndpointName, readonly string[]> = {
  status: ['GET'], livemeasure: ['GET'], legal: ['GET', 'POST', 'PUT'], ocmf: ['GET'],
  settings: ['GET', 'PUT'], certificate: ['GET'], logbook: ['GET'],
};

export function matchRoute(path: string, device: MeterDevice): Route | undefined {
  const match = /^\/(v1|v2)\/([a-z]+)(?:\/(-?\d+))?\/?$/.exec(path);
  if (!match) return undefined;
  const api = match[1] as ApiVersion;
  const endpoint = match[2] as EndpointName;
  if (!(endpoint in METHODS)) return undefined;
  if (api === 'v2' && (V1_ONLY.has(endpoint) || !device.apiServed('v2'))) return undefined;
  if (match[3] !== undefined && !WITH_SELECTOR.has(endpoint)) return undefined;
  return { endpoint, api, selectorText: match[3] };
}

function selectorOf(route: Route, query: URLSearchParams): RecordSelector {
  if (route.selectorText !== undefined) {
    const n = Number(route.selectorText);
    return n < 0 || route.selectorText.startsWith('-') ? { kind: 'age', age: Math.abs(n) } : { kind: 'slot', slot: n };
  }
  const id = query.get('transactionId');
  return id !== null ? { kind: 'id', id } : { kind: 'current' };
}

function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new DeviceReject('badRequest', 'the request body is empty; a JSON object is required');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DeviceReject('badRequest', `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

function rejection(device: MeterDevice, kind: RejectionKind, message: string): Reply {
  const configured = device.options.rejections[kind];
  return configured.body !== undefined
    ? { status: configured.status, body: configured.body, contentType: 'application/json' }
    : json(configured.status, { error: kind, message });
}

/** Runs the device operation for a matched route. */
function operate(device: MeterDevice, route: Route, method: string, query: URLSearchParams, body: string, ip: string): Reply {
  switch (route.endpoint) {
    case 'status':
      return json(200, device.statusBody(ip));
    case 'livemeasure':
      return json(200, device.liveMeasure());
    case 'legal':
      if (method === 'POST') return json(201, device.start(parseJsonBody(body), route.api));
      if (method === 'PUT') return json(200, device.stop(query.get('transactionId') ?? undefined, parseJsonBody(body)));
      return json(200, device.legal(selectorOf(route, query)));
    case 'ocmf':
      return { status: 200, body: device.ocmf(selectorOf(route, query)), contentType: 'text/plain; charset=utf-8' };
    case 'settings': {
      if (method === 'GET') return json(200, device.settingsBody());
      let parsed: unknown;
      try {
        parsed = parseJsonBody(body);
      } catch (error) {
        if (device.options.malformedSettings === 'http400') throw error;
        return json(200, { meterId: device.options.meterId, result: 0, error: (error as Error).message });
      }
      const result = device.writeSettings(parsed);
      // The switch to or from TLS applies to the next connection; this one is closed after the answer.
      return { ...json(200, result.body), closeConnection: result.tlsChanged };
    }
    case 'certificate':
      return json(200, device.certificateBody());
    case 'logbook':
      return json(200, device.logbookBody());
  }
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string | number> = { 'Content-Type': reply.contentType, 'Content-Length': Buffer.byteLength(reply.body) };
  if (reply.closeConnection) headers.Connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(reply.body);
}

async function applyFault(res: ServerResponse, fault: ResponseFault, reply: () => Reply): Promise<void> {
  if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
  if (res.destroyed) return;
  if (fault.drop === 'immediately') {
    res.socket?.resetAndDestroy();
    return;
  }
  const base = fault.status !== undefined || fault.body !== undefined
    ? { status: fault.status ?? 200, body: fault.body ?? '', contentType: fault.contentType ?? 'application/json' }
    : reply();
  if (fault.drop === 'midResponse') {
    res.writeHead(base.status, { 'Content-Type': base.contentType, 'Content-Length': Buffer.byteLength(base.body) + 16 });
    res.write(base.body.slice(0, Math.ceil(base.body.length / 2)));
    setImmediate(() => res.socket?.resetAndDestroy());
    return;
  }
  send(res, base);
}

export interface RouteContext {
  device: MeterDevice;
  faults: FaultInjector;
  log: RequestLog;
  tls: boolean;
}

export async function handleRequest(req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      send(res, { ...json(413, { error: 'payloadTooLarge', message: `request bodies are limited to ${MAX_BODY_BYTES} bytes` }), closeConnection: true });
      return;
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks).toString('utf8');
  const url = new URL(req.url ?? '/', 'http://meter');
  const method = req.method ?? 'GET';
  ctx.log.add({
    atMs: performance.timeOrigin + performance.now(), tls: ctx.tls, method, url: req.url ?? '/', path: url.pathname,
    query: Object.fromEntries(url.searchParams), headers: { ...req.headers }, body,
  });

  const { device } = ctx;
  const route = matchRoute(url.pathname, device);
  const run = (): Reply => {
    if (!route) return rejection(device, 'notFound', `no such resource: ${url.pathname}`);
    if (!METHODS[route.endpoint].includes(method)) return rejection(device, 'methodNotAllowed', `${method} is not allowed on ${url.pathname}`);
    try {
      return operate(device, route, method, url.searchParams, body, req.socket.localAddress ?? '');
    } catch (error) {
      if (error instanceof DeviceReject) return rejection(device, error.kind, error.message);
      return json(500, { error: 'internal', message: (error as Error).message });
    }
  };
  const fault = route ? ctx.faults.take(route.endpoint, method) : undefined;
  if (fault) await applyFault(res, fault, run);
  else send(res, run());
}
