/**
 * Starts the IEEE 2030.5 / CSIP-AUS test server on a socket (reference §5.1).
 *
 * With `tls`: HTTPS with mutual TLS as 2030.5 requires (§2.2): TLS 1.2 only, the mandatory suite
 * `ECDHE-ECDSA-AES128-CCM8` (named explicitly: Node does not list it, yet negotiates it; `@SECLEVEL=0` as verified
 * with the P-256 PKI of src/pki/sep2-pki.ts), client certificates required and verified against the SERCA (`caPem`):
 * a certificate from another CA fails the handshake. The client LFDI is that of the peer certificate.
 * Without `tls`: plain HTTP, the identity coming from `x-forwarded-client-cert` as behind envoy's proxy (§2.5).
 *
 * `refuseFor(ms)` takes the server off the network for a while: the listener closes (connections are refused, open
 * ones dropped) and reopens on the same port after `ms`. With `adminPort` the admin API (admin.ts) listens on
 * `adminHost` (default 127.0.0.1, loopback: it has no authentication).
 *
 * Binds 127.0.0.1 and a free port by default. Garbage on the wire gets a 400 and a closed socket; a thrown error
 * a 500 Error body; nothing crashes the process. Several servers can run in one process (no module state).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createSep2AdminServer } from './admin.js';
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
  /** `http://127.0.0.1:<port>` of the admin API, when `adminPort` was given. */
  readonly adminUrl: string | undefined;
  /** Refuses connections (listener closed, open ones dropped) for `ms`, then listens on the same port again. */
  refuseFor(ms: number): void;
  close(): Promise<void>;
}

export interface Sep2TlsMaterial {
  keyPem: string;
  /** The server certificate (chain) the client verifies against its SERCA. */
  certPem: string;
  /** The SERCA (or CAs) that client certificate chains must lead to. */
  caPem: string;
}

export type Sep2ServerStartOptions = Sep2ServerOptions & {
  host?: string;
  port?: number;
  tls?: Sep2TlsMaterial;
  /** Serve the admin API (admin.ts) on this port; omit for none, 0 for a free one. */
  adminPort?: number | undefined;
  /** Default 127.0.0.1. */
  adminHost?: string;
};

/** The 2030.5 TLS profile (reference §2.2). */
export const SEP2_TLS = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-CCM8:@SECLEVEL=0' } as const;

export async function startSep2Server(options: Sep2ServerStartOptions): Promise<Sep2Server> {
  const { host = '127.0.0.1', port = 0, tls, adminPort, adminHost = '127.0.0.1', ...serverOptions } = options;
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

  let closed = false;
  let relisten: NodeJS.Timeout | undefined;
  const listenAgain = (): void => {
    relisten = undefined;
    if (closed || server.listening) return;
    const retry = (): void => {
      if (!closed && !server.listening) relisten = setTimeout(listenAgain, 50); // the port is not free yet
    };
    server.once('error', retry);
    server.listen(bound, host, () => server.off('error', retry));
  };
  const refuseFor = (ms: number): void => {
    if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`refuseFor needs a non-negative integer of milliseconds (got ${ms})`);
    if (closed) return;
    clearTimeout(relisten);
    if (server.listening) server.close();
    for (const socket of sockets) socket.destroy();
    relisten = setTimeout(listenAgain, ms);
  };

  let admin: http.Server | undefined;
  let adminUrl: string | undefined;
  if (adminPort !== undefined) {
    const adminServer = createSep2AdminServer(handler, { refuseFor });
    admin = adminServer;
    try {
      await new Promise<void>((resolve, reject) => {
        adminServer.once('error', reject);
        adminServer.listen(adminPort, adminHost, () => {
          adminServer.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw error;
    }
    const adminHostInUrl = adminHost.includes(':') ? `[${adminHost}]` : adminHost;
    adminUrl = `http://${adminHostInUrl}:${(adminServer.address() as AddressInfo).port}`;
  }

  return {
    url: `${secure ? 'https' : 'http'}://${hostInUrl}:${bound}`,
    port: bound,
    handler,
    requests: handler.state.requests,
    adminUrl,
    refuseFor,
    async close() {
      closed = true;
      clearTimeout(relisten);
      for (const socket of sockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
        new Promise<void>((resolve) => {
          if (!admin?.listening) return resolve();
          admin.close(() => resolve());
          admin.closeAllConnections();
        }),
      ]);
    },
  };
}

export { createSep2Handler } from './handler.js';
export type { Sep2AdminState, Sep2Communications, Sep2Handler, Sep2Request, Sep2Response, Sep2ServerState } from './handler.js';
export { COMMS_DISABLED_BODY } from './handler.js';
export type { Sep2ServerOptions, PreRegisteredDevice, ResolvedSep2Options, SuccessResource, Sep2Warning, Sep2PollRateKind } from './options.js';
export { resolveSep2Options, MAX_LIMIT, printWarning, POLL_RATE_KINDS } from './options.js';
export { answerAdmin, createSep2AdminServer, type Sep2AdminAnswer, type Sep2AdminExtras, type Sep2AdminRequest } from './admin.js';
export type {
  CancelInput, ControlInput, ControlView, DefaultControlInput, DefaultInput, PowerInput, ProgramInput, ProgramView, SupersedeInput,
} from './der-admin.js';
export type { Sep2ActivePower, Sep2ControlModes, Sep2RecordedResponse } from './der-programs.js';
export type { RecordedRequest } from './request-log.js';
export type { Sep2Site, Sep2Der } from './store.js';
export type { Sep2Fault, InjectedFault } from './faults.js';
export { lfdiFromForwardedCert, FORWARDED_CERT_HEADER } from './forwarded-cert.js';
