/**
 * HTTP client for a 2030.5 server: mutual TLS (P-256 client certificate, the utility's SERCA as the only trust
 * anchor, TLS 1.2 offering ECDHE-ECDSA-AES128-CCM8), `Accept`/`Content-Type: application/sep+xml`, hrefs and
 * `Location` resolved against the base URL and otherwise opaque (reference §2.1, §2.2, §4.4, §4.5). No retries:
 * the registration statechart draws them. Failures are ControllerErrors; HTTP errors carry the `Error` body and
 * the server's `Retry-After`. Transport failures are classified: a certificate or handshake problem is a `trust`
 * error naming the config key to check (it is never retried as an outage); refused, timed out and reset
 * connections keep their own `reason` and message. The transport is Node's own node:https (a keep-alive agent
 * carrying the mutual-TLS options) under ky, as for the meter: no second HTTP stack (undici) is loaded.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import ky, { isTimeoutError, type KyInstance } from 'ky';
import { ControllerError, errorMessage } from '../../domain/errors.js';
import type { Sep2Documents, Sep2Kind } from '../../domain/sep2-resources.js';
import { parseRetryAfter } from '../../domain/retry.js';
import { classifyTransport, rootCause } from '../http/errors.js';
import { BodyTooLargeError, createNodeFetch } from '../http/pinned-tls.js';
import { decodeDocument, decodeErrorBody, DecodeError, type Sep2ErrorBody } from './sep2.schemas.js';
import { MAX_XML_BYTES, XmlError, type CsipausVersion } from './xml.js';

export const SEP2_MEDIA_TYPE = 'application/sep+xml';
/** CCM8 is the 2030.5 mandatory suite; OpenSSL 3 on Node 24 only offers it at security level 0. */
export const SEP2_CIPHERS = 'ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0';

export interface Sep2TlsOptions {
  /** Client certificate chain (device certificate first) and its key. */
  certPem: string;
  keyPem: string;
  /** Trust anchors for the server (the SERCA). Chain verification stays on; only the host name is not checked. */
  caPem: string;
}

export interface Sep2ClientOptions {
  baseUrl: string;
  tls?: Sep2TlsOptions | undefined;
  timeoutMs?: number;
  /** For plain-HTTP deployments behind a TLS proxy, or tests: sent as `x-forwarded-client-cert`. */
  forwardedClientCert?: string | undefined;
  /** Replaces the network (mock mode: an in-process server that prints each request). */
  fetch?: typeof fetch | undefined;
  /** Wall clock for `Retry-After` dates (default Date.now). */
  now?: () => number;
}

export class Sep2HttpError extends ControllerError {
  constructor(message: string, status: number, readonly errorBody: Sep2ErrorBody | undefined, readonly retryAfterMs?: number) {
    super('http-status', message, { status });
    this.name = 'Sep2HttpError';
  }
}

/** The config keys a failure points at (the controller's config, `registration.` prefixed). */
const KEYS = {
  ca: 'registration.tls.ca',
  certificate: 'registration.tls.certificate',
  key: 'registration.tls.key',
  url: 'registration.server.url',
  timeout: 'registration.server.timeoutMs',
};

/** A transport failure as a ControllerError whose message names the cause and what to check. */
export function sep2TransportError(error: unknown, method: string, url: string, timeoutMs: number): ControllerError {
  const what = `${method} ${url}`;
  const cause = rootCause(error);
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  switch (classifyTransport(error)) {
    case 'server-certificate':
      return new ControllerError('trust', `${what}: the server's certificate is not trusted (${cause}); check ${KEYS.ca}: it must hold the utility's SERCA, the CA the server certificate chains to`, { cause: error });
    case 'client-certificate':
      return new ControllerError('trust', `${what}: the server refused this client's certificate (${cause}); check ${KEYS.certificate} and ${KEYS.key}: the device certificate must chain to the utility's SERCA and be known to the utility`, { cause: error });
    case 'tls-handshake':
      return new ControllerError('trust', `${what}: the TLS handshake failed (${cause}); check ${KEYS.url} (an https port speaking TLS 1.2) and that the server offers ECDHE-ECDSA-AES128-CCM8 or -GCM-SHA256`, { cause: error });
    case 'handshake-reset':
      return new ControllerError('transport', `${what}: the server closed the connection during the TLS handshake (${cause}); if this repeats, it refuses the client certificate: check ${KEYS.certificate} and ${KEYS.key}`, { cause: error, reason: 'handshake-reset' });
    case 'refused':
      return new ControllerError('transport', `${what}: connection refused by ${host} (the server is down, or ${KEYS.url} names the wrong port)`, { cause: error, reason: 'refused' });
    case 'timeout':
      return new ControllerError('transport', `${what} timed out after ${timeoutMs} ms (no answer; ${KEYS.timeout} sets the limit)`, { cause: error, reason: 'timeout' });
    case 'reset':
      return new ControllerError('transport', `${what}: the connection was reset (${cause})`, { cause: error, reason: 'reset' });
    case 'dns':
      return new ControllerError('transport', `${what}: host ${host} not found (${cause}); check ${KEYS.url} and DNS`, { cause: error, reason: 'dns' });
    case 'unreachable':
      return new ControllerError('transport', `${what}: no route to ${host} (${cause}); the network is down`, { cause: error, reason: 'unreachable' });
    case 'other':
      return new ControllerError('transport', `${what} failed: ${cause}`, { cause: error, reason: 'other' });
  }
}

export interface Sep2WriteResult {
  status: number;
  /** The resolved `Location`, when the server gave one. */
  location: string | undefined;
}

export class Sep2Client {
  readonly baseUrl: string;
  readonly #http: KyInstance;
  readonly #agents: { http?: HttpAgent | undefined; https?: HttpsAgent | undefined };
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(options: Sep2ClientOptions) {
    this.baseUrl = new URL(options.baseUrl).toString();
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    // Connections are kept alive between requests (a registration is a dozen of them; an aggregator's many more).
    // An https: URL without TLS material (tests, a TLS proxy) verifies the server against Node's CA store.
    this.#agents = options.fetch ? {} : {
      http: new HttpAgent({ keepAlive: true }),
      https: options.tls
        ? new HttpsAgent({
            keepAlive: true,
            cert: options.tls.certPem,
            key: options.tls.keyPem,
            ca: options.tls.caPem,
            rejectUnauthorized: true,
            checkServerIdentity: () => undefined, // utility certificates often do not name the host (reference §2.2)
            minVersion: 'TLSv1.2',
            maxVersion: 'TLSv1.2',
            ciphers: SEP2_CIPHERS,
          })
        : undefined,
    };
    this.#http = ky.create({
      retry: 0,
      timeout: this.#timeoutMs,
      throwHttpErrors: false,
      redirect: 'manual',
      fetch: options.fetch ?? createNodeFetch({ agents: this.#agents, maxBodyBytes: MAX_XML_BYTES }),
      headers: { Accept: SEP2_MEDIA_TYPE, ...(options.forwardedClientCert ? { 'x-forwarded-client-cert': options.forwardedClientCert } : {}) },
    });
  }

  /** Resolves an href or Location from the server against the base URL; the result is used as it is. */
  resolve(href: string): string {
    return new URL(href, this.baseUrl).toString();
  }

  async #send(method: 'GET' | 'POST' | 'PUT', href: string, body?: string): Promise<{ status: number; text: string; location: string | undefined }> {
    const url = this.resolve(href);
    let response: Response;
    try {
      response = await this.#http(url, {
        method,
        ...(body !== undefined ? { body, headers: { 'Content-Type': SEP2_MEDIA_TYPE } } : {}),
      });
    } catch (error) {
      if (error instanceof BodyTooLargeError) throw new ControllerError('schema', `${method} ${url}: answer larger than ${MAX_XML_BYTES} bytes`);
      if (isTimeoutError(error)) throw new ControllerError('transport', `${method} ${url} timed out after ${this.#timeoutMs} ms (no answer; ${KEYS.timeout} sets the limit)`, { cause: error, reason: 'timeout' });
      throw sep2TransportError(error, method, url, this.#timeoutMs);
    }
    const text = await response.text().catch((error: unknown) => {
      throw new ControllerError('transport', `${method} ${url}: the connection broke while reading the body: ${errorMessage(error)}`, { reason: 'body-cut' });
    });
    if (Buffer.byteLength(text) > MAX_XML_BYTES) throw new ControllerError('schema', `${method} ${url}: answer larger than ${MAX_XML_BYTES} bytes`);
    const locationHeader = response.headers.get('location');
    const location = locationHeader ? this.resolve(locationHeader) : undefined;
    if (response.status >= 300) {
      const errorBody = decodeErrorBody(text);
      const detail = errorBody ? ` (reasonCode ${errorBody.reasonCode}${errorBody.message ? `: ${errorBody.message}` : ''})` : '';
      // Retry-After means something on 503 and 429 (RFC 9110 §10.2.3; 3xx are not followed here).
      const retryAfter = response.status === 503 || response.status === 429 ? parseRetryAfter(response.headers.get('retry-after'), this.#now()) : undefined;
      const after = retryAfter !== undefined ? `; Retry-After ${Math.round(retryAfter / 1000)} s` : '';
      throw new Sep2HttpError(`${method} ${url} answered ${response.status}${detail}${after}`, response.status, errorBody, retryAfter);
    }
    return { status: response.status, text, location };
  }

  async get<K extends Sep2Kind>(kind: K, href: string, query?: Record<string, string | number>): Promise<{ doc: Sep2Documents[K]; csipaus: CsipausVersion | undefined }> {
    const url = new URL(this.resolve(href));
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, String(value));
    const { text } = await this.#send('GET', url.toString());
    try {
      return decodeDocument(kind, text);
    } catch (error) {
      if (error instanceof DecodeError || error instanceof XmlError) throw new ControllerError('schema', `GET ${url}: ${error.message}`);
      throw error;
    }
  }

  /** A document's text, for decoders of documents outside Sep2Kind (the metering mirror, mirror.ts). */
  async getText(href: string, query?: Record<string, string | number>): Promise<string> {
    const url = new URL(this.resolve(href));
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, String(value));
    return (await this.#send('GET', url.toString())).text;
  }

  async post(href: string, xml: string): Promise<Sep2WriteResult> {
    const { status, location } = await this.#send('POST', href, xml);
    return { status, location };
  }

  async put(href: string, xml: string): Promise<Sep2WriteResult> {
    const { status, location } = await this.#send('PUT', href, xml);
    return { status, location };
  }

  async close(): Promise<void> {
    this.#agents.http?.destroy();
    this.#agents.https?.destroy();
  }
}
