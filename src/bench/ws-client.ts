/** A minimal feed client for benchmarks: counts messages, measures delivery delay, sends commands. */
import { WebSocket } from 'ws';

export class BenchFeedClient {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  delays: number[] | undefined;
  #pending = new Map<string, (payload: Record<string, unknown>) => void>();
  #next = 0;

  constructor(url: string, token?: string, options: { measure?: boolean } = {}) {
    this.socket = new WebSocket(token ? `${url}?token=${encodeURIComponent(token)}` : url, { perMessageDeflate: false });
    if (options.measure) this.delays = [];
    this.socket.on('message', (data) => {
      const received = Date.now();
      const message = JSON.parse(data.toString()) as { ts: string; type: string; payload: Record<string, unknown> };
      if (this.delays && message.type !== 'snapshot') this.delays.push(received - Date.parse(message.ts));
      if (message.type === 'command.result') this.#pending.get(String(message.payload.requestId))?.(message.payload);
    });
    this.socket.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
  }

  command(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const requestId = `b${(this.#next += 1)}`;
    return new Promise((resolve) => {
      this.#pending.set(requestId, (payload) => {
        this.#pending.delete(requestId);
        resolve(payload);
      });
      this.socket.send(JSON.stringify({ ...body, requestId }));
    });
  }

  close(): void {
    this.socket.terminate();
  }
}
