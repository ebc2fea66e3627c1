/** A WebSocket feed client for tests: collects every message and waits for the ones a test expects. */
import { WebSocket } from 'ws';

export interface FeedEnvelope {
  v: number;
  seq: number;
  ts: string;
  type: string;
  payload: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export class FeedClient {
  readonly messages: FeedEnvelope[] = [];
  readonly socket: WebSocket;
  closed: { code: number; reason: string } | undefined;
  readonly opened: Promise<void>;
  #requests = 0;

  constructor(url: string, options: { token?: string; header?: boolean } = {}) {
    const target = options.token && !options.header ? `${url}?token=${encodeURIComponent(options.token)}` : url;
    this.socket = new WebSocket(target, options.token && options.header ? { headers: { Authorization: `Bearer ${options.token}` } } : {});
    this.socket.on('message', (data) => this.messages.push(JSON.parse(data.toString()) as FeedEnvelope));
    this.socket.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; });
    this.socket.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
  }

  async next(predicate: (m: FeedEnvelope) => boolean, timeoutMs = 8000, after = 0): Promise<FeedEnvelope> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.messages.find((m) => m.seq > after && predicate(m));
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no matching feed message within ${timeoutMs} ms; got: ${this.messages.map((m) => m.type).join(', ')}`);
  }

  send(value: unknown): void {
    this.socket.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  /** Sends a command and resolves with its `command.result` or `error` answer. */
  async command(command: Record<string, unknown>, timeoutMs = 8000): Promise<FeedEnvelope> {
    const requestId = `t${(this.#requests += 1)}`;
    this.send({ ...command, requestId });
    return this.next((m) => (m.type === 'command.result' || m.type === 'error') && m.payload.requestId === requestId, timeoutMs);
  }

  async closeAndWait(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
