/** A raw HTTP(S) client for tests: full control of headers and body framing (chunked, Expect: 100-continue). */
import http from 'node:http';
import https from 'node:https';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface RawRequest {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  /** Send the body with Transfer-Encoding: chunked, in two chunks. */
  chunked?: boolean;
  /** Send Expect: 100-continue and wait for the 100 before the body. */
  expectContinue?: boolean;
  /** Pinned CA for HTTPS. */
  ca?: string;
  timeoutMs?: number;
}

export function request(url: string, options: RawRequest = {}): Promise<RawResponse> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...options.headers };
  const body = options.body;
  if (body !== undefined && !options.chunked) headers['Content-Length'] = String(Buffer.byteLength(body));
  if (options.chunked) headers['Transfer-Encoding'] = 'chunked';
  if (options.expectContinue) headers.Expect = '100-continue';
  const common = {
    host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`,
    method: options.method ?? 'GET', headers, agent: false as const, timeout: options.timeoutMs ?? 5000,
  };
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
      });
    };
    const req = secure
      ? https.request({ ...common, ca: options.ca, ciphers: 'DEFAULT:@SECLEVEL=1', checkServerIdentity: () => undefined, minVersion: 'TLSv1.2' }, onResponse)
      : http.request(common, onResponse);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    const writeBody = (): void => {
      if (body === undefined) return void req.end();
      if (options.chunked) {
        const half = Math.ceil(body.length / 2);
        req.write(body.slice(0, half));
        req.end(body.slice(half));
      } else req.end(body);
    };
    if (options.expectContinue) req.on('continue', writeBody);
    else writeBody();
  });
}

export const getJson = async <T = Record<string, unknown>>(url: string, options: RawRequest = {}): Promise<T> => {
  const res = await request(url, options);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${res.text}`);
  return res.json<T>();
};

export const sendJson = (method: string, url: string, value: unknown, options: RawRequest = {}): Promise<RawResponse> =>
  request(url, { ...options, method, body: typeof value === 'string' ? value : JSON.stringify(value) });
