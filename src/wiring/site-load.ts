/**
 * What a 2030.5 site's DER client needs from the meters: the charger's own power (the sum of the site's EVSE
 * meters) and, when the site has a site meter at its connection point, the site's import. A site meter that has
 * said nothing for `staleMs` no longer counts (the DER client then applies opModImpLimW to the charger alone) until
 * it reads again; each change of that is reported once.
 */
import type { MeterEmitted } from '../../machines/meter/meter.types.js';
import type { SiteLoad } from '../../machines/der-client.machine.js';

/** A meter's readings, as the meter driver's actor emits them. */
export interface ReadingSource {
  name: string;
  onReading(listener: (event: Extract<MeterEmitted, { type: 'reading' }>) => void): () => void;
}

export interface SiteMeters {
  /** The EVSE meters the site's limit applies to. */
  evses: readonly string[];
  siteMeter?: string | undefined;
}

/**
 * Follows the meters of one site and calls `onLoad` with each site meter reading (or `undefined` once it has gone
 * quiet); `onStale(true|false)` when the site meter stops or starts counting. Returns the unsubscribe function.
 */
export function followSiteLoad(
  meters: readonly ReadingSource[], site: SiteMeters,
  handlers: { onLoad: (load: SiteLoad | undefined) => void; onStale?: (stale: boolean) => void; staleMs?: number; now?: () => number },
): () => void {
  const now = handlers.now ?? Date.now;
  const staleMs = handlers.staleMs ?? 10_000;
  const powerW = new Map<string, number>();
  let siteAt = 0;
  let stale = false;
  const chargerW = (): number => site.evses.reduce((sum, name) => sum + Math.max(0, powerW.get(name) ?? 0), 0);
  const unsubscribe = meters
    .filter((m) => site.evses.includes(m.name) || m.name === site.siteMeter)
    .map((m) => m.onReading((event) => {
      const watts = event.reading.power_W.total;
      if (!Number.isFinite(watts)) return;
      powerW.set(m.name, watts);
      if (m.name !== site.siteMeter) return;
      siteAt = now();
      if (stale) {
        stale = false;
        handlers.onStale?.(false);
      }
      handlers.onLoad({ siteImportW: Math.max(0, watts), chargerW: chargerW() });
    }));
  const watchdog = site.siteMeter === undefined ? undefined : setInterval(() => {
    if (stale || siteAt === 0 || now() - siteAt < staleMs) return;
    stale = true;
    handlers.onStale?.(true);
    handlers.onLoad(undefined);
  }, Math.min(1000, staleMs));
  watchdog?.unref();
  return () => {
    if (watchdog) clearInterval(watchdog);
    for (const off of unsubscribe) off();
  };
}

/** The EVSE meters of a site: its configured `meters`, else (a charger registering itself) every meter but site meters. */
export function evseMetersOf(site: { meters?: string[] | undefined; siteMeter?: string | undefined }, all: readonly string[], deviceMode: boolean, siteMeters: ReadonlySet<string>): string[] {
  if (site.meters) return site.meters;
  return deviceMode ? all.filter((name) => !siteMeters.has(name)) : [];
}
