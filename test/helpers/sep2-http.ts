/**
 * A tiny 2030.5 HTTP client for tests (reference §2.1, §2.2): mutual TLS 1.2 with the CCM8 suite, trusting only the
 * SERCA and skipping the host-name check, `Accept`/`Content-Type: application/sep+xml`. Over plain HTTP it can send
 * envoy's `x-forwarded-client-cert` header instead.
 */
import http from 'node:http';
import https from 'node:https';
import { parseXml, type XmlObject } from '../../src/adapters/sep2/xml.js';

export interface Sep2TestResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface Sep2TestRequest {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  /** The client certificate chain and key (mTLS). */
  client?: { keyPem: string; chainPem: string };
  /** The SERCA the server certificate must chain to. */
  ca?: string;
  timeoutMs?: number;
}

export const SEP_MEDIA = 'application/sep+xml';

export function sep2Request(url: string, options: Sep2TestRequest = {}): Promise<Sep2TestResponse> {
  const target = new URL(url);
  const headers: Record<string, string> = { Accept: SEP_MEDIA, ...options.headers };
  if (options.body !== undefined) {
    headers['Content-Type'] ??= SEP_MEDIA;
    headers['Content-Length'] = String(Buffer.byteLength(options.body));
  }
  const common = {
    host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: options.method ?? 'GET',
    headers, agent: false as const, timeout: options.timeoutMs ?? 5000,
  };
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    };
    const req = target.protocol === 'https:'
      ? https.request({
          ...common, key: options.client?.keyPem, cert: options.client?.chainPem, ca: options.ca,
          minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-CCM8:@SECLEVEL=0',
          checkServerIdentity: () => undefined,
        }, onResponse)
      : http.request(common, onResponse);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface Sep2TestClient {
  /** `href` as the server gave it (absolute path or full URL). */
  get(href: string): Promise<Sep2TestResponse>;
  put(href: string, body: string): Promise<Sep2TestResponse>;
  post(href: string, body: string): Promise<Sep2TestResponse>;
  send(method: string, href: string, body?: string): Promise<Sep2TestResponse>;
}

/** A client bound to one server and one identity (mTLS material, or headers such as x-forwarded-client-cert). */
export function sep2Client(baseUrl: string, identity: Pick<Sep2TestRequest, 'client' | 'ca' | 'headers'> = {}): Sep2TestClient {
  const send = (method: string, href: string, body?: string): Promise<Sep2TestResponse> =>
    sep2Request(new URL(href, baseUrl).toString(), { ...identity, method, ...(body !== undefined ? { body } : {}) });
  return {
    get: (href) => send('GET', href),
    put: (href, body) => send('PUT', href, body),
    post: (href, body) => send('POST', href, body),
    send,
  };
}

// ---- reading answers -----------------------------------------------------------------------------------------------

/** The parsed root element of an answer (by namespace URI; CSIP-AUS children as `csipaus:<name>`). */
export const xmlBody = (res: Sep2TestResponse): XmlObject => parseXml(res.text).body;
export const childOf = (body: XmlObject, name: string): XmlObject => body[name] as XmlObject;
/** Child element names in document order (attributes left out). */
export const elementNames = (body: XmlObject): string[] => Object.keys(body).filter((key) => !key.startsWith('@_'));
/** A repeated child element as an array (one or none included). */
export function listOf(body: XmlObject, name: string): XmlObject[] {
  const value = body[name];
  return value === undefined ? [] : ((Array.isArray(value) ? value : [value]) as XmlObject[]);
}
