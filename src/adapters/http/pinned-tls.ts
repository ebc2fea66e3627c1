/**
 * Pinned TLS for the meter (reference §2.2): the operator's copy of the meter's self-signed certificate is the
 * only trust anchor (`ca`) and its SHA-256 fingerprint must match exactly; the host name is not checked (the
 * certificate does not name the meter's address); OpenSSL security level 1 admits the meter's 1024-bit RSA key;
 * TLS 1.2 or later. Verification is never switched off.
 */
import { X509Certificate } from 'node:crypto';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { PeerCertificate } from 'node:tls';

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

export interface MeterFetchOptions {
  pinned?: PinnedCertificate | undefined;
  /** The local address to connect from (the configured interface's), read per request. */
  localAddress?: (() => string | undefined) | undefined;
  /** Larger bodies fail the request (the meter's answers are a few kB). */
  maxBodyBytes?: number | undefined;
}

/** The TLS options of the pin: the operator's copy is the only anchor and its fingerprint must match. */
export function pinnedTlsOptions(pinned: PinnedCertificate): Pick<HttpsRequestOptions, 'ca' | 'rejectUnauthorized' | 'minVersion' | 'ciphers' | 'checkServerIdentity'> {
  return {
    ca: pinned.pem,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ciphers: 'DEFAULT:@SECLEVEL=1',
    checkServerIdentity: (_host: string, cert: PeerCertificate) =>
      cert.fingerprint256 === pinned.fingerprint256
        ? undefined
        : new Error(`meter certificate fingerprint ${cert.fingerprint256} does not match the pinned ${pinned.fingerprint256}`),
  };
}

/**
 * A `fetch` for ky over node:http / node:https: a new connection per request, as the device expects (reference
 * §2.1: no keep-alive), the pinned TLS options above, the body read whole and bounded. The HTTP stack is Node's own,
 * so a meter-only controller does not load a second copy of undici (≈ 30 MB of resident memory).
 */
export function createMeterFetch(options: MeterFetchOptions): (input: Request | URL | string, init?: RequestInit) => Promise<Response> {
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
      method: request.method, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, path: `${url.pathname}${url.search}`, headers, agent: false,
      ...(localAddress ? { localAddress } : {}),
    };
    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const finish = (error: unknown, response?: Response): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (response) resolve(response);
        else reject(error instanceof Error ? error : new Error(String(error)));
      };
      const client = url.protocol === 'https:'
        ? httpsRequest({ ...common, ...(options.pinned ? pinnedTlsOptions(options.pinned) : { rejectUnauthorized: true }) })
        : httpRequest(common);
      const onAbort = (): void => {
        client.destroy();
        finish(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      client.on('error', (error) => finish(error));
      client.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBodyBytes) {
            client.destroy();
            finish(new Error(`the answer is larger than ${maxBodyBytes} bytes`));
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
