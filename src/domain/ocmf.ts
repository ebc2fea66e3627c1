/**
 * OCMF (Open Charge Metering Format) records as the LEM DCBM writes them (reference §3.7):
 * `OCMF|<payload JSON>|<signature JSON>`. The signature covers the payload JSON text exactly as transmitted,
 * so the payload is kept as text next to its parsed form.
 */

export const OCMF_SIGNATURE_ALGORITHM = 'ECDSA-secp256r1-SHA256';
export const OBIS_IMPORT = '1-0:1.8.0';
export const OBIS_EXPORT = '1-0:2.8.0';

/** LEM cable-loss compensation object carried on the first reading (vendor extension). */
export interface OcmfCableCompensation {
  UN: string;
  UI: number;
  UR: number;
}

export interface OcmfReading {
  TM?: string;
  TX?: string;
  RV: number;
  RI: string;
  RU: string;
  RT?: string;
  EF?: string;
  ST: string;
  UC?: OcmfCableCompensation;
}

export interface OcmfPayload {
  FV: string;
  GI: string;
  GS: string;
  GV: string;
  PG: string;
  MV: string;
  MS: string;
  MF: string;
  IS: boolean;
  IL: string;
  IF: string[];
  IT: string;
  ID: string;
  CT: string;
  CI: string;
  RD: OcmfReading[];
}

export interface OcmfSignature {
  SA: string;
  SD: string;
}

export interface OcmfParts {
  payloadText: string;
  signatureText: string;
}

export function formatOcmf(payloadText: string, signature: OcmfSignature): string {
  return `OCMF|${payloadText}|${JSON.stringify(signature)}`;
}

/**
 * Splits a record into its payload and signature sections. The signature section holds no `|`, so the split is
 * at the last one; the payload may contain `|` inside strings. Returns undefined when the frame is not OCMF.
 */
export function splitOcmf(text: string): OcmfParts | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('OCMF|')) return undefined;
  const last = trimmed.lastIndexOf('|');
  if (last <= 4) return undefined;
  return { payloadText: trimmed.slice(5, last), signatureText: trimmed.slice(last + 1) };
}

/** Reading types that end a transaction (OCMF: E end, L tariff limit, R remote, A abort, P power loss, S suspended). */
const ENDING_TX = new Set(['E', 'L', 'R', 'A', 'P', 'S']);

/**
 * Whether a record's last typed reading (one with `TX`) ends its transaction; false for an intermediate record (last reading `C`/`B`/`T`)
 * and for text that is not a readable OCMF payload.
 */
export function ocmfTransactionEnded(text: string): boolean {
  const parts = splitOcmf(text);
  if (!parts) return false;
  try {
    const payload = JSON.parse(parts.payloadText) as { RD?: { TX?: unknown }[] };
    // Readings without TX (e.g. the export register) belong to the reading before them.
    const last = Array.isArray(payload.RD) ? payload.RD.findLast((reading) => typeof reading?.TX === 'string') : undefined;
    return typeof last?.TX === 'string' && ENDING_TX.has(last.TX);
  } catch {
    return false;
  }
}

/** OCMF identification types by the numeric `ocmfId.IT` setting (reference §3.8, COMMPROT §4.2.10.3). */
export const IDENTIFICATION_TYPES = [
  'NONE', 'DENIED', 'UNDEFINED', 'ISO14443', 'ISO15693', 'EMAID', 'EVCCID', 'EVCOID', 'ISO7812',
  'CARD_TXN_NR', 'CENTRAL', 'CENTRAL_1', 'CENTRAL_2', 'LOCAL', 'LOCAL_1', 'LOCAL_2', 'PHONE_NUMBER', 'KEY_CODE',
] as const;
export type IdentificationType = (typeof IDENTIFICATION_TYPES)[number];
