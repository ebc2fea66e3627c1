/** The meter's fetch over node:http: bodies, limits, broken answers and aborts, against a raw loopback server. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMeterFetch } from '../../src/adapters/http/pinned-tls.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => { s.closeAllConnections(); s.close(resolve); })));
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('meter fetch', () => {
  it('sends method, headers and body, and returns status, headers and body', async () => {
    const url = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => res.writeHead(201, { 'X-Echo': req.headers['content-type'] ?? '' }).end(JSON.stringify({ method: req.method, path: req.url, body, length: req.headers['content-length'] })));
    });
    const response = await createMeterFetch({})(new Request(`${url}/v1/legal?transactionId=a%20b`, { method: 'POST', body: '{"x":1}', headers: { 'Content-Type': 'application/json' } }));
    expect(response.status).toBe(201);
    expect(response.headers.get('x-echo')).toBe('application/json');
    expect(await response.json()).toEqual({ method: 'POST', path: '/v1/legal?transactionId=a%20b', body: '{"x":1}', length: '7' });
  });

  it('answers 204 without a body', async () => {
    const url = await serve((_req, res) => res.writeHead(204).end());
    const response = await createMeterFetch({})(`${url}/x`);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
  });

  it('fails a body above the limit, and one cut off mid-way', async () => {
    const big = await serve((_req, res) => res.end('x'.repeat(5000)));
    await expect(createMeterFetch({ maxBodyBytes: 1000 })(`${big}/x`)).rejects.toThrow('larger than 1000 bytes');
    const cut = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('half');
      setImmediate(() => res.socket?.destroy());
    });
    await expect(createMeterFetch({})(`${cut}/x`)).rejects.toThrow(/closed before the whole answer|aborted|socket hang up/);
  });

  it('stops at an abort and reports the reason', async () => {
    const url = await serve(() => undefined); // never answers
    const controller = new AbortController();
    const pending = createMeterFetch({})(new Request(`${url}/x`, { signal: controller.signal }));
    setTimeout(() => controller.abort(new Error('timed out')), 50);
    await expect(pending).rejects.toThrow('timed out');
  });

  it('fails a refused connection with the socket error', async () => {
    const url = await serve(() => undefined);
    await new Promise((resolve) => { servers[0]!.close(resolve); });
    servers.splice(0);
    await expect(createMeterFetch({})(`${url}/x`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
