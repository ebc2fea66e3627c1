/**
 * One HTTP exchange of the test server: read the body within a limit, establish the client LFDI, dispatch to the
 * handler and write its answer. Nothing else: the handler records every request.
 *
 * Client identity (reference §2.4, §2.5): over TLS, the LFDI of the verified peer certificate (first 40 hex digits
 * of its SHA-256 fingerprint); over plain HTTP, envoy's `x-forwarded-client-cert` header (forwarded-cert.ts).
 */
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { lfdiFromFingerprint } from '../../domain/sep2-identity.js';
import { FORWARDED_CERT_HEADER, lfdiFromForwardedCert } from './forwarded-cert.js';
import type { Sep2Handler, Sep2Request, Sep2Response } from './handler.js';

/** Bodies above this get 413; 2030.5 registration documents are a few hundred bytes. */
export const MAX_BODY_BYTES = 256 * 1024;
/** An oversized body is drained up to this much (so the client reads its 413), then the connection is dropped. */
const MAX_DRAIN_BYTES = 16 * 1024 * 1024;

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

function peerLfdi(req: http.IncomingMessage): string | undefined {
  const fingerprint = (req.socket as TLSSocket).getPeerCertificate?.()?.fingerprint256;
  if (!fingerprint) return undefined;
  try {
    return lfdiFromFingerprint(fingerprint);
  } catch {
    return undefined;
  }
}

/** The body as text, or null once it passes MAX_BODY_BYTES (the rest is drained, not kept). */
function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_DRAIN_BYTES) {
      resolve(null);
      return;
    }
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_DRAIN_BYTES) req.destroy();
      else if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function write(res: http.ServerResponse, answer: Sep2Response, close = false): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(answer.status, { ...answer.headers, 'Content-Length': String(Buffer.byteLength(answer.body)), ...(close ? { Connection: 'close' } : {}) });
  res.end(answer.body);
}

export async function serveExchange(handler: Sep2Handler, req: http.IncomingMessage, res: http.ServerResponse, tls: boolean): Promise<void> {
  const headers = flatHeaders(req.headers);
  const clientLfdi = tls ? peerLfdi(req) : lfdiFromForwardedCert(headers[FORWARDED_CERT_HEADER]);
  const base: Omit<Sep2Request, 'body'> = { method: req.method ?? 'GET', path: req.url ?? '/', headers, clientLfdi };
  let body: string | null;
  try {
    body = await readBody(req);
  } catch {
    res.destroy(); // the client went away mid-body: nobody to answer
    return;
  }
  if (body === null) {
    write(res, handler.answerError({ ...base, body: '' }, 413, `The request body exceeds ${MAX_BODY_BYTES} bytes.`), true);
    return;
  }
  const request: Sep2Request = { ...base, body };
  let answer: Sep2Response;
  try {
    answer = handler.dispatch(request);
  } catch (error) {
    answer = handler.answerError(request, 500, `Internal server error: ${(error as Error).message}`);
  }
  write(res, answer);
}
