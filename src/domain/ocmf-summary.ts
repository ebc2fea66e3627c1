/**
 * What a person or a billing export wants from a signed record: the energy charged (kWh) and how long it took,
 * read from the record's own readings (OCMF `RD`): the begin reading (`TX: "B"`) and the last typed reading of the
 * same register (an end reading, or `C` for an intermediate record). The values come from the signed payload, so
 * they are what the transparency software will show; they are for display and reports, not a verification.
 */
import { splitOcmf } from './ocmf.js';

export interface OcmfSummary {
  /** End minus begin of the register of the begin reading (normally 1-0:1.8.0, import), in kWh. */
  energyKWh: number;
  /** Seconds between the begin and the end reading's timestamps; undefined when either is unreadable. */
  durationS: number | undefined;
  /** The register (OBIS) the energy is taken from. */
  register: string;
  beganAt: string | undefined;
  endedAt: string | undefined;
  /** The end reading ends the transaction (E, L, R, A, P, S), rather than an intermediate read. */
  final: boolean;
}

interface Reading {
  TM?: unknown;
  TX?: unknown;
  RV?: unknown;
  RI?: unknown;
  RU?: unknown;
}

const ENDING_TX = new Set(['E', 'L', 'R', 'A', 'P', 'S']);
const UNIT_TO_KWH: Record<string, number> = { kWh: 1, Wh: 0.001, MWh: 1000 };

/** OCMF time `2024-05-01T10:00:00,000+0200 R` (OCMF §5.3.3: comma fraction, offset without colon, sync flag) → ISO. */
export function ocmfTimeToIso(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[,.](\d{1,3}))?([+-]\d{2}):?(\d{2})(?:\s+\S)?$/.exec(text.trim());
  if (!match) return undefined;
  const iso = `${match[1]}.${(match[2] ?? '0').padEnd(3, '0')}${match[3]}:${match[4]}`;
  return Number.isFinite(Date.parse(iso)) ? iso : undefined;
}

/** The record's energy and duration; undefined for text that is not OCMF or has no begin and later reading. */
export function summarizeOcmf(text: string): OcmfSummary | undefined {
  const parts = splitOcmf(text);
  if (!parts) return undefined;
  let readings: Reading[];
  try {
    const payload = JSON.parse(parts.payloadText) as { RD?: unknown };
    if (!Array.isArray(payload.RD)) return undefined;
    readings = payload.RD.filter((r): r is Reading => typeof r === 'object' && r !== null);
  } catch {
    return undefined;
  }
  const begin = readings.find((r) => r.TX === 'B');
  if (!begin || typeof begin.RI !== 'string') return undefined;
  const register = begin.RI;
  const end = readings.findLast((r) => r !== begin && r.RI === register && typeof r.TX === 'string');
  const kwh = (r: Reading): number | undefined => {
    const factor = typeof r.RU === 'string' ? UNIT_TO_KWH[r.RU] : undefined;
    return typeof r.RV === 'number' && factor !== undefined ? r.RV * factor : undefined;
  };
  const from = kwh(begin);
  const to = end ? kwh(end) : undefined;
  if (!end || from === undefined || to === undefined) return undefined;
  const beganAt = ocmfTimeToIso(begin.TM);
  const endedAt = ocmfTimeToIso(end.TM);
  return {
    // Rounded to 0.1 Wh (the finest resolution meters sign, 4 decimals of kWh): a float difference carries noise.
    energyKWh: Math.round((to - from) * 10_000) / 10_000,
    durationS: beganAt && endedAt ? Math.round((Date.parse(endedAt) - Date.parse(beganAt)) / 1000) : undefined,
    register,
    beganAt,
    endedAt,
    final: ENDING_TX.has(String(end.TX)),
  };
}
