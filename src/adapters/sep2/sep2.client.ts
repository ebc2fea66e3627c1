/**
 * HTTP client for a 2030.5 server: mutual TLS (P-256 client certificate, the utility's SERCA as the only trust
 * anchor, TLS 1.2 offering ECDHE-ECDSA-AES128-CCM8), `Accept`/`Content-Type: application/sep+xml`, hrefs and
 * `Location` resolved against the base URL and otherwise opaque (reference §2.1, §2.2, §4.4, §4.5). No retries:
 * the registration statechart draws them. Failures are ControllerErrors; HTTP errors carry the `Error` body.
 */
import ky, { isTimeoutError, type KyInstance } from 'ky';
import { Agent } from 'undici';
import { ControllerError, errorMessage } from '../../domain/errors.js';
import type { Sep2Documents, Sep2Kind } from '../../domain/sep2-resources.js';
import { rootCause } from '../http/errors.js';
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
}

export class Sep2HttpError extends ControllerError {
  constructor(message: string, status: number, readonly errorBody: Sep2ErrorBody | undefined) {
    super('http-status', message, { status });
    this.name = 'Sep2HttpError';
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
  readonly #agent: Agent | undefined;
  readonly #timeoutMs: number;

  constructor(options: Sep2ClientOptions) {
    this.baseUrl = new URL(options.baseUrl).toString();
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#agent = options.tls
      ? new Agent({
          connect: {
            cert: options.tls.certPem,
            key: options.tls.keyPem,
            ca: options.tls.caPem,
            rejectUnauthorized: true,
            checkServerIdentity: () => undefined, // utility certificates often do not name the host (reference §2.2)
            minVersion: 'TLSv1.2',
            maxVersion: 'TLSv1.2',
            ciphers: SEP2_CIPHERS,
          },
        })
      : undefined;
    this.#http = ky.create({
      retry: 0,
      timeout: this.#timeoutMs,
      throwHttpErrors: false,
      redirect: 'manual',
      ...(options.fetch ? { fetch: options.fetch } : {}),
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
        ...(this.#agent ? { dispatcher: this.#agent } : {}),
      } as Parameters<KyInstance>[1]);
    } catch (error) {
      if (isTimeoutError(error)) throw new ControllerError('transport', `${method} ${url} timed out after ${this.#timeoutMs} ms`, { cause: error });
      throw new ControllerError('transport', `${method} ${url} failed: ${rootCause(error)}`, { cause: error });
    }
    const text = await response.text().catch((error: unknown) => {
      throw new ControllerError('transport', `${method} ${url}: the connection broke while reading the body: ${errorMessage(error)}`);
    });
    if (Buffer.byteLength(text) > MAX_XML_BYTES) throw new ControllerError('schema', `${method} ${url}: answer larger than ${MAX_XML_BYTES} bytes`);
    const locationHeader = response.headers.get('location');
    const location = locationHeader ? this.resolve(locationHeader) : undefined;
    if (response.status >= 300) {
      const errorBody = decodeErrorBody(text);
      const detail = errorBody ? ` (reasonCode ${errorBody.reasonCode}${errorBody.message ? `: ${errorBody.message}` : ''})` : '';
      throw new Sep2HttpError(`${method} ${url} answered ${response.status}${detail}`, response.status, errorBody);
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

  async post(href: string, xml: string): Promise<Sep2WriteResult> {
    const { status, location } = await this.#send('POST', href, xml);
    return { status, location };
  }

  async put(href: string, xml: string): Promise<Sep2WriteResult> {
    const { status, location } = await this.#send('PUT', href, xml);
    return { status, location };
  }

  async close(): Promise<void> {
    await this.#agent?.destroy();
  }
}
