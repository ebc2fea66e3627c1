/**
 * Starts the IEEE 2030.5 / CSIP-AUS test server on a socket (reference §5.1).
 *
 * With `tls`: HTTPS with mutual TLS as 2030.5 requires (§2.2): TLS 1.2 only, the mandatory suite
 * `ECDHE-ECDSA-AES128-CCM8` (named explicitly: Node does not list it, yet negotiates it; `@SECLEVEL=0` as verified
 * with the P-256 PKI of src/pki/sep2-pki.ts), client certificates required and verified against the SERCA (`caPem`):
 * a certificate from another CA fails the handshake. The client LFDI is that of the peer certificate.
 * Without `tls`: plain HTTP, the identity coming from `x-forwarded-client-cert` as behind envoy's proxy (§2.5).
 *
 * Binds 127.0.0.1 and a free port by default. Garbage on the wire gets a 400 and a closed socket; a thrown error
 * a 500 Error body; nothing crashes the process. Several servers can run in one process (no module state).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createSep2Handler, type Sep2Handler } from './handler.js';
import type { Sep2ServerOptions } from './options.js';
import type { RecordedRequest } from './request-log.js';
import { serveExchange } from './transport.js';

export interface Sep2Server {
  readonly url: string;
  readonly port: number;
  readonly handler: Sep2Handler;
  /** The handler's live request log. */
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface Sep2TlsMaterial {
  keyPem: string;
  /** The server certificate (chain) the client verifies against its SERCA. */
  certPem: string;
  /** The SERCA (or CAs) that client certificate chains must lead to. */
  caPem: string;
}

export type Sep2ServerStartOptions = Sep2ServerOptions & { host?: string; port?: number; tls?: Sep2TlsMaterial };

/** The 2030.5 TLS profile (reference §2.2). */
export const SEP2_TLS = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-CCM8:@SECLEVEL=0' } as const;

export async function startSep2Server(options: Sep2ServerStartOptions): Promise<Sep2Server> {
  const { host = '127.0.0.1', port = 0, tls, ...serverOptions } = options;
  const handler = createSep2Handler(serverOptions);
  const secure = tls !== undefined;
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    serveExchange(handler, req, res, secure).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end();
    });
  };
  const server: http.Server = tls
    ? https.createServer({ ...SEP2_TLS, key: tls.keyPem, cert: tls.certPem, ca: tls.caPem, requestCert: true, rejectUnauthorized: true }, listener)
    : http.createServer(listener);
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  if (tls) server.on('tlsClientError', () => undefined); // a refused handshake is the client's failure, not ours

  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;

  return {
    url: `${secure ? 'https' : 'http'}://${hostInUrl}:${bound}`,
    port: bound,
    handler,
    requests: handler.state.requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export { createSep2Handler } from './handler.js';
export type { Sep2Handler, Sep2Request, Sep2Response, Sep2ServerState } from './handler.js';
export type { Sep2ServerOptions, PreRegisteredDevice, ResolvedSep2Options, SuccessResource, Sep2Warning } from './options.js';
export { resolveSep2Options, MAX_LIMIT, printWarning } from './options.js';
export type { RecordedRequest } from './request-log.js';
export type { Sep2Site, Sep2Der } from './store.js';
export type { Sep2Fault, InjectedFault } from './faults.js';
export { lfdiFromForwardedCert, FORWARDED_CERT_HEADER } from './forwarded-cert.js';
