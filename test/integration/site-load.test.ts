/**
 * The site load the DER client gets (src/wiring/site-load.ts), from two real meter drivers on LEM DCBM simulators
 * over loopback: an EVSE meter and a site meter. Each site meter reading gives the site's import and the charger's
 * own power; a site meter that goes quiet stops counting (undefined, once), and counts again when it reads.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SiteLoad } from '../../machines/der-client.machine.js';
import { createMeterDriver } from '../../src/adapters/lem-dcbm/meter.driver.js';
import { parseMeterConfig } from '../../src/config/meter.config.js';
import { followSiteLoad, type ReadingSource } from '../../src/wiring/site-load.js';
import { meterSim } from '../helpers/meter-sim.js';
import { until } from '../helpers/wait.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function meter(name: string, powerKw: number) {
  const sim = await meterSim({ chargePowerKw: powerKw });
  sim.device.setConditions({ powerKw });
  const parsed = parseMeterConfig({ name, ip_address: '127.0.0.1', port: sim.port, warmup_ms: 0, reading_interval_ms: 100, command_timeout_ms: 1000, resilience_initial_connection_retry_delay: 100 });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const driver = createMeterDriver(parsed.value);
  closers.push(() => driver.stop());
  driver.actor.start();
  const source: ReadingSource = { name, onReading: (listener) => { const s = driver.actor.on('reading', listener); return () => s.unsubscribe(); } };
  return { sim, source };
}


describe('the site load from the meters', () => {
  it('gives the site import and the charger power at each site reading; a quiet site meter stops counting, then counts again', async () => {
    const evse = await meter('evse', 7);
    const grid = await meter('grid', 11);
    const loads: (SiteLoad | undefined)[] = [];
    const stale: boolean[] = [];
    const stop = followSiteLoad([evse.source, grid.source], { evses: ['evse'], siteMeter: 'grid' }, { onLoad: (l) => loads.push(l), onStale: (s) => stale.push(s), staleMs: 600 });
    closers.push(stop);
    await until('a load with both meters read', () => loads.some((l) => l !== undefined && l.chargerW > 0), 5000);
    const last = loads.filter((l): l is SiteLoad => l !== undefined).at(-1)!;
    expect(Math.abs(last.siteImportW - 11_000)).toBeLessThanOrEqual(110);
    expect(Math.abs(last.chargerW - 7000)).toBeLessThanOrEqual(70);
    // The site meter stops answering: after staleMs the load is dropped, once.
    grid.sim.faults.addResponseFault({ endpoint: 'livemeasure', drop: 'immediately', times: 20 });
    await until('the site meter quiet', () => stale.includes(true), 5000);
    expect(loads.at(-1)).toBeUndefined();
    expect(loads.filter((l) => l === undefined)).toHaveLength(1);
    await until('the site meter back', () => stale.at(-1) === false && loads.at(-1) !== undefined, 10_000);
    expect(stale).toEqual([true, false]);
  }, 25_000);
});
