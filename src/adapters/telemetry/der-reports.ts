/**
 * DERStatus and DERAvailability as the charger reports them (telemetry-status.ts), and the reporter that PUTs them
 * with DERSettings to the links of the site's DER: EndDevice → DERListLink → the first DER's DERStatusLink,
 * DERAvailabilityLink and DERSettingsLink (read again with the DERList at each report, so a changed href is
 * followed). Element order as sep.xsd: DERStatus genConnectStatus, inverterStatus, operationalModeStatus,
 * readingTime; DERAvailability readingTime, statWAvail. Each status carries the time it last changed.
 */
import type { DerSettingsData } from '../../domain/sep2-resources.js';
import type { DerReport } from '../../domain/telemetry-status.js';
import { encodeDerSettings, hexBinary, powerValue } from '../sep2/resources.js';
import type { Sep2Client } from '../sep2/sep2.client.js';
import { buildXml, el, SEP_NS, type CsipausVersion } from '../sep2/xml.js';

/** IEEE 2030.5's default pollRate, seconds. */
const DEFAULT_POLL_RATE_S = 900;

export interface StatusTimes {
  genConnectStatus: number;
  inverterStatus: number;
  operationalModeStatus: number;
}

export function encodeDerStatusReport(r: DerReport, since: StatusTimes, nowS: number): string {
  return buildXml(el('DERStatus', [
    el('genConnectStatus', [el('dateTime', String(since.genConnectStatus)), el('value', hexBinary(r.genConnectStatus, 1))]),
    el('inverterStatus', [el('dateTime', String(since.inverterStatus)), el('value', String(r.inverterStatus))]),
    el('operationalModeStatus', [el('dateTime', String(since.operationalModeStatus)), el('value', String(r.operationalModeStatus))]),
    el('readingTime', String(nowS)),
  ], { xmlns: SEP_NS }));
}

export function encodeDerAvailabilityReport(r: DerReport, nowS: number): string {
  const p = powerValue(r.statWAvailW);
  return buildXml(el('DERAvailability', [
    el('readingTime', String(nowS)),
    el('statWAvail', [el('multiplier', String(p.multiplier)), el('value', String(p.value))]),
  ], { xmlns: SEP_NS }));
}

export interface DerReporterOptions {
  endDeviceHref: string;
  /** The DERSettings to report (read at each report, so whoever owns them can change them). */
  settings?: (() => DerSettingsData | undefined) | undefined;
  csipaus?: CsipausVersion | undefined;
  now: () => number;
}

export class DerReporter {
  readonly #client: Sep2Client;
  readonly #options: DerReporterOptions;
  #derListHref: string | undefined;
  #last: DerReport | undefined;
  #since: StatusTimes | undefined;

  constructor(client: Sep2Client, options: DerReporterOptions) {
    this.#client = client;
    this.#options = options;
  }

  /** PUTs the three documents; answers the DERList's pollRate. */
  async report(r: DerReport): Promise<{ pollRateS: number }> {
    const nowS = Math.floor(this.#options.now() / 1000);
    if (!this.#derListHref) {
      const { doc } = await this.#client.get('EndDevice', this.#options.endDeviceHref);
      if (!doc.derListLink) throw new Error(`EndDevice ${this.#options.endDeviceHref} has no DERListLink: there is no DER to report on`);
      this.#derListHref = doc.derListLink.href;
    }
    const list = await this.#client.get('DERList', this.#derListHref, { s: 0, l: 1 }).catch((error: unknown) => {
      if ((error as { status?: unknown }).status === 404) this.#derListHref = undefined; // moved: read the EndDevice again
      throw error;
    });
    const csipaus = this.#options.csipaus ?? list.csipaus;
    const der = list.doc.ders[0];
    if (!der) throw new Error(`the DERList ${this.#derListHref} is empty: there is no DER to report on`);
    const since = this.#since ?? { genConnectStatus: nowS, inverterStatus: nowS, operationalModeStatus: nowS };
    if (this.#last) {
      if (this.#last.genConnectStatus !== r.genConnectStatus) since.genConnectStatus = nowS;
      if (this.#last.inverterStatus !== r.inverterStatus) since.inverterStatus = nowS;
      if (this.#last.operationalModeStatus !== r.operationalModeStatus) since.operationalModeStatus = nowS;
    }
    if (der.statusLink) await this.#client.put(der.statusLink.href, encodeDerStatusReport(r, since, nowS));
    if (der.availabilityLink) await this.#client.put(der.availabilityLink.href, encodeDerAvailabilityReport(r, nowS));
    const settings = this.#options.settings?.();
    if (der.settingsLink && settings) await this.#client.put(der.settingsLink.href, encodeDerSettings(settings, csipaus, nowS));
    this.#last = r;
    this.#since = since;
    return { pollRateS: list.doc.pollRate ?? DEFAULT_POLL_RATE_S };
  }
}
