/**
 * The WebSocket feed (ws): a snapshot on connect, then deltas, each with its connection's sequence number; a
 * ping/pong heartbeat; slow clients evicted at a buffered-bytes limit so memory stays bounded; a small
 * `maxPayload`. Commands share the socket and need the token (header `Authorization: Bearer`, `?token=`, or an
 * `auth` message); without one a client is read-only, and only when the config allows read-only clients.
 * Bad input gets an `error` message and never reaches the handler. Topic messages (`chart`) go only to the
 * clients that subscribed (`subscribe` / `unsubscribe`, allowed to read-only clients). close() does not wait
 * for a client that stopped reading: after CLOSE_GRACE_MS its socket is destroyed; closeHttpServer does the same
 * for the HTTP server's connections.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as v from 'valibot';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { describeIssues } from '../../domain/validation.js';
import type { Logger } from '../../logger.js';
import { COMMAND_TYPES, CommandSchema, FEED_VERSION, type Command, type FeedPayloads, type FeedTopic, type SnapshotPayload } from './feed.messages.js';

/** Message types sent only to the clients subscribed to their topic. */
const TOPIC_OF: Partial<Record<keyof FeedPayloads, FeedTopic>> = { chart: 'chart' };

/** How long close() lets a client answer the close handshake before its socket is destroyed. */
export const CLOSE_GRACE_MS = 1000;

export interface FeedServerOptions {
  token: string | undefined;
  allowReadOnly: boolean;
  /** Larger frames close the connection (ws 1009). */
  maxPayloadBytes: number;
  /** Commands larger than this get an error and the connection stays. */
  maxCommandBytes: number;
  /** A client whose unsent backlog exceeds this is evicted. */
  maxBufferedBytes: number;
  heartbeatMs: number;
  log: Logger;
  /** close(): how long a client may take to answer the close handshake before its socket is destroyed (default CLOSE_GRACE_MS). */
  closeGraceMs?: number | undefined;
}

export type FeedCommand = Exclude<Command, { type: 'auth' } | { type: 'get_snapshot' } | { type: 'subscribe' } | { type: 'unsubscribe' }>;

export interface FeedBackend {
  snapshot(canCommand: boolean): SnapshotPayload;
  /** Runs a command; the result goes back as `command.result`. Throwing answers `ok: false` with the message. */
  execute(command: FeedCommand): Promise<unknown>;
}

interface Client {
  socket: WebSocket;
  seq: number;
  canCommand: boolean;
  alive: boolean;
  remote: string;
  topics: Set<FeedTopic>;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
const tokenMatches = (given: string, expected: string): boolean => timingSafeEqual(digest(given), digest(expected));

function tokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  return new URL(req.url ?? '/', 'http://feed').searchParams.get('token') ?? undefined;
}

export class FeedServer {
  readonly #wss: WebSocketServer;
  readonly #clients = new Set<Client>();
  /** Subscribers per topic, so a topic nobody follows costs nothing (not even serializing). */
  readonly #subscribers = new Map<FeedTopic, Set<Client>>();
  readonly #heartbeat: NodeJS.Timeout;
  #accepting = true;
  evicted = 0;

  constructor(server: HttpServer, private readonly backend: FeedBackend, private readonly options: FeedServerOptions) {
    this.#wss = new WebSocketServer({ server, path: '/feed', maxPayload: options.maxPayloadBytes, perMessageDeflate: false });
    this.#wss.on('connection', (socket, req) => this.#connect(socket, req));
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatMs);
    this.#heartbeat.unref();
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  #connect(socket: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const given = tokenOf(req);
    const expected = this.options.token;
    const client: Client = { socket, seq: 0, canCommand: false, alive: true, remote, topics: new Set() };
    if (given !== undefined && (expected === undefined || !tokenMatches(given, expected))) {
      this.#refuse(client, 'the token is not valid');
      return;
    }
    client.canCommand = given !== undefined;
    if (!client.canCommand && !this.options.allowReadOnly) {
      this.#refuse(client, 'a token is required (read-only clients are not allowed by the config)');
      return;
    }
    this.#clients.add(client);
    socket.on('pong', () => { client.alive = true; });
    socket.on('message', (data, isBinary) => void this.#receive(client, data, isBinary));
    socket.on('close', () => this.#forget(client));
    socket.on('error', (error) => this.options.log.debug({ remote, err: error.message }, 'feed client error'));
    this.options.log.info({ remote, canCommand: client.canCommand }, 'feed client connected');
    this.#send(client, 'snapshot', this.backend.snapshot(client.canCommand));
  }

  #refuse(client: Client, message: string): void {
    this.options.log.warn({ remote: client.remote }, `feed connection refused: ${message}`);
    this.#send(client, 'error', { code: 'unauthorized', message });
    client.socket.close(4401, 'unauthorized');
  }

  #send<K extends keyof FeedPayloads>(client: Client, type: K, payload: FeedPayloads[K]): void {
    this.#sendSerialized(client, type, JSON.stringify(payload), new Date().toISOString());
  }

  /** Sends an envelope around an already serialized payload (a broadcast serializes its payload once). */
  #sendSerialized(client: Client, type: string, payloadJson: string, ts: string): void {
    const { socket } = client;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > this.options.maxBufferedBytes) {
      // A client that does not keep up loses its connection, not our memory.
      this.evicted += 1;
      this.#forget(client);
      this.options.log.warn({ remote: client.remote, bufferedBytes: socket.bufferedAmount }, 'feed client evicted: too slow');
      socket.terminate();
      return;
    }
    client.seq += 1;
    socket.send(`{"v":${FEED_VERSION},"seq":${client.seq},"ts":"${ts}","type":${JSON.stringify(type)},"payload":${payloadJson}}`);
  }

  #forget(client: Client): void {
    this.#clients.delete(client);
    for (const topic of client.topics) this.#subscribers.get(topic)?.delete(client);
  }

  /**
   * Sends a delta to every connected client (a topic's message only to its subscribers); the payload is
   * serialized once, only `seq` differs per client.
   */
  publish<K extends keyof FeedPayloads>(type: K, payload: FeedPayloads[K]): void {
    const topic = TOPIC_OF[type];
    const targets = topic ? this.#subscribers.get(topic) : this.#clients;
    if (!targets?.size) return;
    const payloadJson = JSON.stringify(payload);
    const ts = new Date().toISOString();
    for (const client of targets) this.#sendSerialized(client, type, payloadJson, ts);
  }

  /** Whether any client follows a topic (a producer may skip building its messages). */
  hasSubscribers(topic: FeedTopic): boolean {
    return (this.#subscribers.get(topic)?.size ?? 0) > 0;
  }

  async #receive(client: Client, data: RawData, isBinary: boolean): Promise<void> {
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
    if (isBinary) return this.#send(client, 'error', { code: 'malformed', message: 'binary frames are not accepted; send JSON text' });
    if (size > this.options.maxCommandBytes) {
      return this.#send(client, 'error', { code: 'payload_too_large', message: `commands are limited to ${this.options.maxCommandBytes} bytes` });
    }
    let value: unknown;
    try {
      value = JSON.parse(data.toString());
    } catch (error) {
      return this.#send(client, 'error', { code: 'malformed', message: `not valid JSON: ${(error as Error).message}` });
    }
    const type = (value as { type?: unknown } | null)?.type;
    const requestId = typeof (value as { requestId?: unknown } | null)?.requestId === 'string' ? (value as { requestId: string }).requestId : undefined;
    if (typeof type !== 'string' || !(COMMAND_TYPES as readonly string[]).includes(type)) {
      return this.#send(client, 'error', { code: 'unknown_command', message: `unknown command ${JSON.stringify(type)}; known: ${COMMAND_TYPES.join(', ')}`, ...(requestId ? { requestId } : {}) });
    }
    const parsed = v.safeParse(CommandSchema, value);
    if (!parsed.success) {
      return this.#send(client, 'error', { code: 'invalid', message: `invalid ${type}: ${describeIssues(parsed.issues)}`, ...(requestId ? { requestId } : {}) });
    }
    const command = parsed.output;
    if (command.type === 'auth') {
      if (this.options.token !== undefined && tokenMatches(command.token, this.options.token)) {
        client.canCommand = true;
        return this.#send(client, 'command.result', { requestId: 'auth', command: 'auth', ok: true });
      }
      return this.#refuse(client, 'the token is not valid');
    }
    if (command.type === 'subscribe' || command.type === 'unsubscribe') {
      // Reading is allowed to read-only clients: a subscription only widens what this client is sent.
      for (const topic of command.topics) {
        const set = this.#subscribers.get(topic) ?? new Set<Client>();
        this.#subscribers.set(topic, set);
        if (command.type === 'subscribe') {
          client.topics.add(topic);
          set.add(client);
        } else {
          client.topics.delete(topic);
          set.delete(client);
        }
      }
      return this.#send(client, 'command.result', { requestId: command.requestId, command: command.type, ok: true, result: { topics: [...client.topics] } });
    }
    if (command.type !== 'get_snapshot' && !client.canCommand) {
      return this.#send(client, 'error', { code: 'unauthorized', message: `${command.type} needs the feed token`, requestId: command.requestId });
    }
    if (!this.#accepting) return this.#send(client, 'error', { code: 'shutting_down', message: 'the controller is shutting down', requestId: command.requestId });
    if (command.type === 'get_snapshot') {
      return this.#send(client, 'command.result', { requestId: command.requestId, command: command.type, ok: true, result: this.backend.snapshot(client.canCommand) });
    }
    try {
      const result = await this.backend.execute(command);
      this.#send(client, 'command.result', { requestId: command.requestId, command: command.type, ok: true, result });
    } catch (error) {
      this.#send(client, 'command.result', { requestId: command.requestId, command: command.type, ok: false, error: (error as Error).message });
    }
  }

  #beat(): void {
    for (const client of this.#clients) {
      if (!client.alive) {
        this.options.log.info({ remote: client.remote }, 'feed client missed its pong: closing');
        this.#forget(client);
        client.socket.terminate();
        continue;
      }
      client.alive = false;
      client.socket.ping();
    }
  }

  /** Refuses new commands from now on (shutdown has begun). */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /**
   * Closes every connection (1001) and the server. A client that has not completed the close handshake within
   * the grace period (one that stopped reading, say) has its socket destroyed: ws itself would wait 30 s for it.
   */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    const sockets = [...this.#wss.clients];
    for (const socket of sockets) socket.close(1001, 'controller shutting down');
    const closed = new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    const grace = setTimeout(() => {
      for (const socket of sockets) if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
    }, this.options.closeGraceMs ?? CLOSE_GRACE_MS);
    await closed;
    clearTimeout(grace);
    this.#clients.clear();
    this.#subscribers.clear();
  }

  address(): AddressInfo | undefined {
    return this.#wss.address() as AddressInfo | undefined;
  }
}

/**
 * Closes an HTTP server the way FeedServer.close() closes its clients: stops listening, closes idle keep-alive
 * connections at once, and destroys the connections still open after the grace period, so a stuck client cannot
 * hold the process past its stop timeout. Resolves when the server has closed.
 */
export async function closeHttpServer(server: HttpServer, graceMs = CLOSE_GRACE_MS): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const grace = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(grace);
}
