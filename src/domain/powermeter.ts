/**
 * The EVerest `powermeter` interface types (everest-core interfaces/powermeter.yaml, types/powermeter.yaml,
 * reference §4.2) and the pure conversions between them and the LEM DCBM's JSON.
 */
import type { ApiVersion } from './firmware.js';

export const IDENTIFICATION_STATUSES = ['ASSIGNED', 'NOT_ASSIGNED'] as const;
export const IDENTIFICATION_LEVELS = ['NONE', 'HEARSAY', 'TRUSTED', 'VERIFIED', 'CERTIFIED', 'SECURE', 'MISMATCH', 'INVALID', 'OUTDATED', 'UNKNOWN'] as const;
export const IDENTIFICATION_FLAGS = [
  'RFID_NONE', 'RFID_PLAIN', 'RFID_RELATED', 'RFID_PSK', 'OCPP_NONE', 'OCPP_RS', 'OCPP_AUTH', 'OCPP_RS_TLS',
  'OCPP_AUTH_TLS', 'OCPP_CACHE', 'OCPP_WHITELIST', 'OCPP_CERTIFIED', 'ISO15118_NONE', 'ISO15118_PNC', 'PLMN_NONE',
  'PLMN_RING', 'PLMN_SMS',
] as const;

export interface TransactionReq {
  evse_id: string;
  transaction_id: string;
  identification_status: (typeof IDENTIFICATION_STATUSES)[number];
  identification_type: string;
  identification_flags: (typeof IDENTIFICATION_FLAGS)[number][];
  identification_level?: (typeof IDENTIFICATION_LEVELS)[number] | undefined;
  identification_data?: string | undefined;
  tariff_text?: string | undefined;
}

export type TransactionRequestStatus = 'OK' | 'NOT_SUPPORTED' | 'UNEXPECTED_ERROR';

export interface TransactionStartResponse {
  status: TransactionRequestStatus;
  error?: string;
  transaction_min_stop_time?: string;
  transaction_max_stop_time?: string;
}

export interface SignedMeterValue {
  signed_meter_data: string;
  signing_method: string;
  encoding_method: string;
  public_key?: string;
  timestamp?: string;
}

export interface TransactionStopResponse {
  status: TransactionRequestStatus;
  start_signed_meter_value?: SignedMeterValue;
  signed_meter_value?: SignedMeterValue;
  error?: string;
}

/** The published reading (EVerest `Powermeter`). */
export interface PowermeterReading {
  timestamp: string;
  meter_id: string;
  energy_Wh_import: { total: number };
  energy_Wh_export: { total: number };
  power_W: { total: number };
  voltage_V: { DC: number };
  current_A: { DC: number };
  temperatures: { temperature: number; identification: string }[];
  signed_meter_value?: SignedMeterValue;
}

/** The device's livemeasure values (reference §3.3), in its units. */
export interface LiveMeasure {
  voltage: number;
  current: number;
  power: number;
  temperatureH: number;
  temperatureL: number;
  energyImportTotal: number;
  energyExportTotal: number;
  timestamp: string;
}

/** kWh → Wh and kW → W (EVerest/EVerest#871); the timestamp is copied verbatim. */
export function toPowermeter(live: LiveMeasure, meterId: string): PowermeterReading {
  return {
    timestamp: live.timestamp,
    meter_id: meterId,
    energy_Wh_import: { total: live.energyImportTotal * 1000 },
    energy_Wh_export: { total: live.energyExportTotal * 1000 },
    power_W: { total: live.power * 1000 },
    voltage_V: { DC: live.voltage },
    current_A: { DC: live.current },
    temperatures: [
      { temperature: live.temperatureH, identification: 'temperatureH' },
      { temperature: live.temperatureL, identification: 'temperatureL' },
    ],
  };
}

export const MAX_FIELD_BYTES = 37;
const byteLength = (text: string): number => new TextEncoder().encode(text).length;

/** Cuts text to at most `max` UTF-8 bytes without splitting a character. */
export function truncateBytes(text: string, max: number): string {
  if (max <= 0) return '';
  let out = '';
  let used = 0;
  for (const ch of text) {
    const size = byteLength(ch);
    if (used + size > max) break;
    out += ch;
    used += size;
  }
  return out;
}

/**
 * `clientId` = `<identification data>,<transaction id>` within 37 bytes (EVerest/EVerest#806). The reference cuts
 * the whole string, which cuts a 36-character UUID whenever an id token is present (reference §6.2 item 6). Here
 * the identification part is shortened first, so the transaction id always survives; `shortened` says it happened.
 */
export function buildClientId(identification: string, transactionId: string): { clientId: string; shortened: boolean } {
  const room = MAX_FIELD_BYTES - 1 - byteLength(transactionId);
  if (room < 0) return { clientId: truncateBytes(transactionId, MAX_FIELD_BYTES), shortened: true };
  const idPart = truncateBytes(identification, room);
  return { clientId: `${idPart},${transactionId}`, shortened: idPart !== identification };
}

export interface StartBodyConfig {
  tariffId: number;
  cableId: number;
  UV: string;
  UD: string;
  SC: number;
}

/** The POST /legal body (reference §3.5), key order as the reference driver sends it. */
export function buildStartBody(req: TransactionReq, config: StartBodyConfig, api: ApiVersion): { body: Record<string, unknown>; clientIdShortened: boolean } {
  const { clientId, shortened } = buildClientId(req.identification_data ?? '', req.transaction_id);
  const body: Record<string, unknown> = api === 'v2'
    ? { evseId: req.evse_id, transactionId: req.transaction_id, clientId, tariffId: config.tariffId, TT: req.tariff_text ?? '', UV: config.UV, UD: config.UD, cableId: config.cableId, userData: '', SC: config.SC }
    : { evseId: req.evse_id, transactionId: req.transaction_id, clientId, tariffId: config.tariffId, cableId: config.cableId, userData: '' };
  return { body, clientIdShortened: shortened };
}

/** Problems the device would refuse anyway, found before any request (OPMAN p.71 Table 7). */
export function checkTransactionReq(req: TransactionReq): string | undefined {
  if (req.transaction_id === '') return 'transaction_id must not be empty';
  if (byteLength(req.transaction_id) > MAX_FIELD_BYTES) return `transaction_id exceeds ${MAX_FIELD_BYTES} bytes`;
  if (byteLength(req.evse_id) > MAX_FIELD_BYTES) return `evse_id exceeds ${MAX_FIELD_BYTES} bytes`;
  return undefined;
}

const MINUTE = 60_000;

/** Stop-time bounds of a started transaction: ≥ 2 min (OPMAN §7.2.2), < 48 h time validity less 1 min. */
export function stopTimeBounds(startedAtMs: number): { transaction_min_stop_time: string; transaction_max_stop_time: string } {
  return {
    transaction_min_stop_time: new Date(startedAtMs + 2 * MINUTE).toISOString(),
    transaction_max_stop_time: new Date(startedAtMs + 48 * 60 * MINUTE - MINUTE).toISOString(),
  };
}
