import { describe, expect, it } from 'vitest';
import { RequestLog } from '../../src/simulators/lem-dcbm/request-log.js';

const request = (path: string) => ({ atMs: 0, tls: false, method: 'GET', url: path, path, query: {}, headers: {}, body: '' });

describe('simulator request log', () => {
  it('keeps the last `limit` requests, oldest first, and filters by sequence number', () => {
    const log = new RequestLog(3);
    for (let i = 1; i <= 5; i += 1) log.add(request(`/r${i}`));
    expect(log.entries().map((e) => [e.seq, e.path])).toEqual([[3, '/r3'], [4, '/r4'], [5, '/r5']]);
    expect(log.entries(4).map((e) => e.seq)).toEqual([5]);
    expect(log.lastSeq).toBe(5);
    log.clear();
    expect(log.entries()).toEqual([]);
    log.add(request('/r6'));
    expect(log.entries().map((e) => e.seq)).toEqual([6]);
  });

  it('with a limit of 0 records nothing but still counts', () => {
    const log = new RequestLog(0);
    log.add(request('/x'));
    expect(log.entries()).toEqual([]);
    expect(log.lastSeq).toBe(1);
  });
});
