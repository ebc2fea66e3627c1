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
      const text = data.toString();
      // Only the envelope's head is read for timing: the harness hosts many clients and must not skew delivery.
      const head = /^\{"v":\d+,"seq":\d+,"ts":"([^"]+)","type":"([^"]+)"/.exec(text);
      if (this.delays && head && head[2] !== 'snapshot') this.delays.push(received - Date.parse(head[1]!));
      if (head?.[2] === 'command.result') {
        const payload = (JSON.parse(text) as { payload: Record<string, unknown> }).payload;
        this.#pending.get(String(payload.requestId))?.(payload);
      }
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
