/**
 * The simulator's network surface: HTTP and HTTPS on one port (reference §2.1–2.2, §5.1). The first byte of a
 * connection decides: 0x16 starts a TLS handshake. Which one is accepted follows the device's `http.tls_on`
 * setting, read per connection, as the real meter replaces HTTP with HTTPS on the same port.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { MeterDevice } from './device.js';
import type { FaultInjector } from './faults.js';
import type { RequestLog } from './request-log.js';
import { handleRequest } from './routes.js';

const TLS_HANDSHAKE = 0x16;
/** The device's 1024-bit RSA key needs OpenSSL security level 1 (reference §2.2). */
const LEGACY_CIPHERS = 'DEFAULT:@SECLEVEL=1';

export interface TlsMaterial {
  keyPem: string;
  certPem: string;
  /** Another self-signed pair, served when the wrong-certificate fault is on. */
  wrongKeyPem: string;
  wrongCertPem: string;
}

export class MeterServer {
  readonly #net: net.Server;
  readonly #http: http.Server;
  readonly #https: https.Server;
  readonly #httpsWrong: https.Server;
  readonly #sockets = new Set<net.Socket>();
  #address: { host: string; port: number } | undefined;
  #relisten: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly device: MeterDevice, private readonly faults: FaultInjector, log: RequestLog, tls: TlsMaterial) {
    const handler = (secure: boolean) => (req: http.IncomingMessage, res: http.ServerResponse) => {
      handleRequest(req, res, { device, faults, log, tls: secure }).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: 'internal', message: (error as Error).message }));
      });
    };
    const tlsOptions = { minVersion: 'TLSv1.2' as const, ciphers: LEGACY_CIPHERS };
    this.#http = http.createServer(handler(false));
    this.#https = https.createServer({ ...tlsOptions, key: tls.keyPem, cert: tls.certPem }, handler(true));
    this.#httpsWrong = https.createServer({ ...tlsOptions, key: tls.wrongKeyPem, cert: tls.wrongCertPem }, handler(true));
    for (const server of [this.#http, this.#https, this.#httpsWrong]) {
      // Garbage on the wire gets a 400 and a closed socket, never a crash.
      server.on('clientError', (_error, socket) => {
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        else socket.destroy();
      });
    }
    this.#https.on('tlsClientError', () => undefined);
    this.#httpsWrong.on('tlsClientError', () => undefined);
    this.#net = net.createServer((socket) => this.#accept(socket));
  }

  #accept(socket: net.Socket): void {
    socket.on('error', () => undefined);
    if (this.faults.resetConnections > 0) {
      this.faults.resetConnections -= 1;
      socket.resetAndDestroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      const handshake = first[0] === TLS_HANDSHAKE;
      if (handshake !== this.device.settings.tlsOn) {
        socket.destroy(); // plain HTTP to a TLS meter, or TLS to a plain one: no common protocol
        return;
      }
      const target = !handshake ? this.#http : this.faults.wrongCertificate ? this.#httpsWrong : this.#https;
      target.emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
  }

  async listen(port: number, host: string): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.#net.once('error', reject);
      this.#net.listen(port, host, () => {
        this.#net.off('error', reject);
        resolve();
      });
    });
    const address = this.#net.address() as net.AddressInfo;
    this.#address = { host, port: address.port };
    return this.#address;
  }

  /** Stops accepting (connections are refused) and drops open ones, then listens again after `ms`. */
  refuseFor(ms: number): void {
    const address = this.#address;
    if (!address || this.#closed) return;
    clearTimeout(this.#relisten);
    this.#net.close();
    for (const socket of this.#sockets) socket.destroy();
    this.#relisten = setTimeout(() => {
      if (this.#closed) return;
      this.#net.listen(address.port, address.host);
    }, ms);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#relisten);
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      if (!this.#net.listening) resolve();
      else this.#net.close(() => resolve());
    });
  }
}
