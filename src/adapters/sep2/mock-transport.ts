/**
 * Mock mode (the seed's "mock requests", reference §4.8): a `fetch` that never touches the network. Each request
 * goes to an in-process 2030.5 test server and is printed as it would be sent: method, URL, headers and the exact
 * body, followed by the simulated status and Location. The same client and statechart run as in real mode.
 */
import type { Sep2Handler } from '../../simulators/sep2-server/handler.js';

export interface PrintedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  status: number;
  location: string | undefined;
}

export function formatPrintedRequest(r: PrintedRequest): string {
  const headers = Object.entries(r.headers)
    .filter(([name]) => name === 'accept' || name === 'content-type')
    .map(([name, value]) => `${name.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase())}: ${value}`);
  return [
    `${r.method} ${r.url}`,
    ...headers,
    ...(r.body ? ['', r.body] : []),
    `→ ${r.status}${r.location ? ` Location: ${r.location}` : ''}`,
    '',
  ].join('\n');
}

export function createMockFetch(handler: Sep2Handler, clientLfdi: string, print: (request: PrintedRequest) => void): typeof fetch {
  return async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const body = request.method === 'GET' || request.method === 'HEAD' ? '' : await request.text();
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const answer = handler.dispatch({ method: request.method, path: `${url.pathname}${url.search}`, headers, body, clientLfdi });
    print({ method: request.method, url: url.toString(), headers, body, status: answer.status, location: answer.headers.Location ?? answer.headers.location });
    const empty = answer.status === 204 || answer.status === 304 || answer.body === '';
    return new Response(empty ? null : answer.body, { status: answer.status, headers: answer.headers });
  };
}
