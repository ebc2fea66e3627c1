/**
 * Smoke run of the benchmark harness with tiny sizes: it measures and prints, and the figures are well-formed.
 * Goals are not asserted here: benchmarks never fail `npm test` (`npm run bench` measures them).
 */
import { describe, expect, it } from 'vitest';
import { runBenches, table } from '../../src/bench/run.js';

describe('bench harness (quick sizes)', () => {
  it('measures XML throughput, schedule drift and start-up, and renders the table', async () => {
    const figures = await runBenches(['xml', 'drift', 'startup'], true);
    expect(figures.map((f) => f.id)).toEqual(['xml_enddevice', 'drift_cumulative', 'drift_jitter_p99', 'drift_reference', 'startup_first_reading']);
    for (const f of figures) {
      expect(Number.isFinite(f.median)).toBe(true);
      expect(f.min).toBeLessThanOrEqual(f.median);
      expect(f.max).toBeGreaterThanOrEqual(f.median);
    }
    expect(table(figures)).toContain('XML encode + decode of an EndDevice');
  }, 60_000);
});
