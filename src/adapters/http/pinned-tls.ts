/**
 * Node's own HTTP stack for ky, and the meter's pinned TLS.
 *
 * `createNodeFetch` is a small `fetch` over node:http / node:https, so that neither the meter driver nor the 2030.5
 * client loads a second HTTP stack (undici, ≈ 30 MB of resident memory): the body is read whole and bounded, an
 * abort destroys the request, and the TLS options (pinned, or mutual TLS) are the caller's.
 *
 * Pinned TLS for the meter (reference §2.2): the operator's copy of the meter's self-signed certificate is the
 * only trust anchor (`ca`) and its SHA-256 fingerprint must match exactly; the host name is not checked (the
 * certificate does not name the meter's address); OpenSSL security level 1 admits the meter's 1024-bit RSA key;
 * TLS 1.2 or later. Verification is never switched off. A meter that presents another certificate fails with a
 * PinMismatchError carrying both fingerprints.
 */
import { X509Certificate } from 'node:crypto';
import { request as httpRequest, type Agent as HttpAgent, type RequestOptions } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { classifyTransport } from './errors.js';

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';

/**
 * Restores the newline after the BEGIN line and before the END line, which `GET /v1/certificate` leaves out; accepts
 * all three broken forms (first missing, last missing, both) and well-formed PEMs.
 */
export function fixPemNewlines(pem: string): string {
  const text = pem.trim();
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < 0 || end < start) throw new Error('not a PEM certificate: BEGIN/END CERTIFICATE lines are missing');
  const body = text.slice(start + BEGIN.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+=*$/.test(body)) throw new Error('not a PEM certificate: the body is not base64');
  return `${BEGIN}\n${body.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n${END}\n`;
}

export interface PinnedCertificate {
  pem: string;
  fingerprint256: string;
}

/** Parses and fixes the configured certificate; throws a clear error when it is not one. */
export function pinCertificate(pem: string): PinnedCertificate {
  const fixed = fixPemNewlines(pem);
  const cert = new X509Certificate(fixed);
  return { pem: fixed, fingerprint256: cert.fingerprint256 };
}

/** The meter presented a certificate other than the pinned one (its chain did not verify against the pin). */
export class PinMismatchError extends Error {
  /** OpenSSL's name for a certificate the trust settings reject: classifyTransport reads it as `server-certificate`. */
  readonly code = 'CERT_REJECTED';

  constructor(readonly presented: string | undefined, readonly pinned: string, options: { cause?: unknown } = {}) {
    super(`the peer presented certificate ${presented ?? '(unknown)'}, not the pinned ${pinned}`, options);
    this.name = 'PinMismatchError';
  }
}

/** The TLS options of the pin: the operator's copy is the only anchor and its fingerprint must match. */
export function pinnedTlsOptions(pinned: PinnedCertificate): Pick<HttpsRequestOptions, 'ca' | 'rejectUnauthorized' | 'minVersion' | 'ciphers' | 'checkServerIdentity'> {
  return {
    ca: pinned.pem,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ciphers: 'DEFAULT:@SECLEVEL=1',
    checkServerIdentity: (_host: string, cert: PeerCertificate) =>
      cert.fingerprint256 === pinned.fingerprint256 ? undefined : new PinMismatchError(cert.fingerprint256, pinned.fingerprint256),
  };
}

export interface NodeFetchOptions {
  /** For https: URLs: TLS options of each request (ignored when an agent carries them). */
  tls?: HttpsRequestOptions | undefined;
  /** Keep-alive agents by protocol (the https one carries its own TLS options); default none: a new connection per request. */
  agents?: { http?: HttpAgent | undefined; https?: HttpsAgent | undefined } | undefined;
  /** The local address to connect from, read per request. */
  localAddress?: (() => string | undefined) | undefined;
  /** Larger bodies fail the request with a BodyTooLargeError. */
  maxBodyBytes?: number | undefined;
  /** Maps a failure, given the certificate the peer presented (when the TLS handshake got that far). */
  mapError?: ((error: Error, peer: PeerCertificate | undefined) => Error) | undefined;
}

/** An answer larger than the limit (`code` ERR_BODY_TOO_LARGE). */
export class BodyTooLargeError extends Error {
  readonly code = 'ERR_BODY_TOO_LARGE';

  constructor(readonly limit: number) {
    super(`the answer is larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * A TLS failure met while writing the request (`write EPROTO ...:SSL routines:ssl3_get_record:wrong version number:`),
 * named as Node names the same failure met in the handshake (`ERR_SSL_WRONG_VERSION_NUMBER`), so that
 * classifyTransport reads both alike (node:https writes the request before the handshake ends; undici did not).
 */
export function nameSslError(error: Error): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const match = code === 'EPROTO' ? /SSL routines:[^:]*:([^:]+):/.exec(error.message) : null;
  if (!match) return error;
  const reason = match[1]!.trim();
  return Object.assign(new Error(`${reason} (SSL, ${code})`), { code: `ERR_SSL_${reason.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}` });
}

/** A `fetch` for ky over node:http / node:https (see the file comment). Redirects are returned, never followed. */
export function createNodeFetch(options: NodeFetchOptions = {}): (input: Request | URL | string, init?: RequestInit) => Promise<Response> {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  return async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const headers: Record<string, string> = Object.fromEntries(request.headers);
    if (body) headers['content-length'] = String(body.length);
    const { signal } = request;
    signal.throwIfAborted();
    const localAddress = options.localAddress?.();
    const common: RequestOptions = {
      method: request.method, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, path: `${url.pathname}${url.search}`, headers,
      ...(localAddress ? { localAddress } : {}),
    };
    const agent = url.protocol === 'https:' ? options.agents?.https : options.agents?.http;
    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      let peer: PeerCertificate | undefined;
      const finish = (error: unknown, response?: Response): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (response) resolve(response);
        else {
          const failure = error instanceof Error ? nameSslError(error) : new Error(String(error));
          reject(options.mapError && failure !== signal.reason ? options.mapError(failure, peer) : failure);
        }
      };
      const client = url.protocol === 'https:'
        ? httpsRequest({ ...common, ...(agent ? { agent } : { agent: false, ...(options.tls ?? { rejectUnauthorized: true }) }) })
        : httpRequest({ ...common, agent: agent ?? false });
      const onAbort = (): void => {
        client.destroy();
        finish(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // The peer's certificate, read as the handshake completes (before a verification failure destroys the socket).
      // A kept-alive socket has done its handshake already: no listener is added to it (they would pile up).
      client.on('socket', (socket) => {
        if (!client.reusedSocket && 'getPeerCertificate' in socket) {
          (socket as TLSSocket).prependOnceListener('secure', () => {
            const cert = (socket as TLSSocket).getPeerCertificate();
            if (cert && Object.keys(cert).length) peer = cert;
          });
        }
      });
      client.on('error', (error) => finish(error));
      client.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBodyBytes) {
            client.destroy();
            finish(new BodyTooLargeError(maxBodyBytes));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error) => finish(error));
        res.on('close', () => {
          if (!res.complete) finish(new Error('the connection closed before the whole answer arrived'));
        });
        res.on('end', () => {
          try {
            const responseHeaders = new Headers();
            for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
            const status = res.statusCode ?? 0;
            const noBody = status === 204 || status === 205 || status === 304;
            finish(undefined, new Response(noBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
          } catch (error) {
            finish(new Error(`unusable answer: ${(error as Error).message}`, { cause: error }));
          }
        });
      });
      client.end(body);
    });
  };
}

export interface MeterFetchOptions {
  pinned?: PinnedCertificate | undefined;
  /** The local address to connect from (the configured interface's), read per request. */
  localAddress?: (() => string | undefined) | undefined;
  /** Larger bodies fail the request (the meter's answers are a few kB). */
  maxBodyBytes?: number | undefined;
}

/**
 * The meter's `fetch`: a new connection per request, as the device expects (reference §2.1: no keep-alive), the
 * pinned TLS options above; a certificate that fails verification against the pin becomes a PinMismatchError.
 */
export function createMeterFetch(options: MeterFetchOptions): (input: Request | URL | string, init?: RequestInit) => Promise<Response> {
  const { pinned } = options;
  return createNodeFetch({
    tls: pinned ? pinnedTlsOptions(pinned) : { rejectUnauthorized: true },
    localAddress: options.localAddress,
    maxBodyBytes: options.maxBodyBytes,
    mapError: pinned
      ? (error, peer) => (!(error instanceof PinMismatchError) && classifyTransport(error) === 'server-certificate' && peer && peer.fingerprint256 !== pinned.fingerprint256
        ? new PinMismatchError(peer.fingerprint256, pinned.fingerprint256, { cause: error })
        : error)
      : undefined,
  });
}
