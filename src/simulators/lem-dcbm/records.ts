/**
 * Renders stored transactions as the meter's two signed forms: the `/legal` JSON record (reference §3.6) and the
 * OCMF text record in the LEM shape (reference §3.7). Both are signed with the meter's P-256 key.
 *
 * The `/legal` signature covers the record's JSON text without its `signature` and `publicKey` members, in the
 * order written here (LEM does not publish what its signature covers; this is the simulator's own rule).
 */
import { isoWithOffset, ocmfTime } from '../../domain/local-time.js';
import {
  formatOcmf, IDENTIFICATION_TYPES, OBIS_EXPORT, OBIS_IMPORT, OCMF_SIGNATURE_ALGORITHM,
  type OcmfPayload, type OcmfReading,
} from '../../domain/ocmf.js';
import { ERROR_BITS, STATUS_BITS } from '../../domain/dcbm-status.js';
import type { DeviceKeys } from './keys.js';
import type { DeviceSettings } from './settings.js';
import type { StoredTransaction } from './transaction-store.js';

export interface RecordContext {
  meterId: string;
  keys: DeviceKeys;
  settings: DeviceSettings;
  firmware: { application: string; sensor: string };
  identificationLevel: string;
  identificationFlags: string[];
  /** For a running transaction: the instant and counters of the intermediate read. */
  now: { utcMs: number; importKWh: number; exportKWh: number };
  /** Local offset at an instant. */
  offsetAt(utcMs: number): number;
}

const kwh = (value: number): number => Number(value.toFixed(3));

/** Status accumulated over the transaction: the start status plus raised flags, less dropped ones, never bit 2. */
export function transactionStatus(tx: StoredTransaction): number {
  return (tx.statusAtStart | tx.raisedFlags) & ~tx.droppedFlags & ~(1 << STATUS_BITS.transactionIsOnGoing);
}

function endValues(tx: StoredTransaction, ctx: RecordContext): { stopMs: number; importKWh: number; exportKWh: number } {
  return tx.running
    ? { stopMs: ctx.now.utcMs, importKWh: ctx.now.importKWh, exportKWh: ctx.now.exportKWh }
    : { stopMs: tx.stoppedAtMs ?? tx.startedAtMs, importKWh: tx.energyImportStopKWh ?? tx.energyImportStartKWh, exportKWh: tx.energyExportStopKWh ?? tx.energyExportStartKWh };
}

function cable(ctx: RecordContext, cableId: number): { cableSpName: string; cableSpId: number; cableSpRes: number } {
  return ctx.settings.cableConf.find((c) => c.cableSpId === cableId) ?? { cableSpName: 'No_Comp', cableSpId: cableId, cableSpRes: 0 };
}

export function legalRecord(tx: StoredTransaction, ctx: RecordContext): Record<string, unknown> {
  const end = endValues(tx, ctx);
  const body = {
    paginationCounter: tx.paginationCounter,
    transactionId: tx.transactionId,
    evseId: tx.evseId,
    clientId: tx.clientId,
    tariffId: tx.tariffId,
    cableSp: cable(ctx, tx.cableId),
    userData: tx.userData,
    meterValue: {
      timestampStart: isoWithOffset(tx.startedAtMs, tx.offsetMinutes),
      timestampStop: isoWithOffset(end.stopMs, ctx.offsetAt(end.stopMs)),
      transactionDuration: Math.round((end.stopMs - tx.startedAtMs) / 1000),
      intermediateRead: tx.running,
      transactionStatus: transactionStatus(tx),
      sampleValue: {
        energyUnit: 'kWh',
        energyImport: kwh(end.importKWh - tx.energyImportStartKWh),
        energyImportTotalStart: kwh(tx.energyImportStartKWh),
        energyImportTotalStop: kwh(end.importKWh),
        energyExport: kwh(end.exportKWh - tx.energyExportStartKWh),
        energyExportTotalStart: kwh(tx.energyExportStartKWh),
        energyExportTotalStop: kwh(end.exportKWh),
      },
    },
    meterId: ctx.meterId,
  };
  return { ...body, signature: ctx.keys.sign(JSON.stringify(body)), publicKey: ctx.keys.publicKey };
}

/** OCMF reading status and error flags derived from the accumulated transaction status and errors. */
function readingQuality(tx: StoredTransaction): { ST: string; EF: string } {
  const status = transactionStatus(tx);
  const timeLost = (status & (1 << STATUS_BITS.timeSyncStatusIsOk)) === 0;
  const errors = tx.errorsDuring !== 0 || (status & (1 << STATUS_BITS.muFatalErrorOccured)) !== 0;
  const tampered = (status & (1 << STATUS_BITS.tamperingIsDetected)) !== 0;
  const storageError = (tx.errorsDuring & ((1 << ERROR_BITS.memoryAccessIsFailed) | (1 << ERROR_BITS.muDataIntegrityIsFailed))) !== 0;
  return {
    ST: tampered ? 'T' : errors ? 'E' : 'G',
    EF: `${storageError ? 'E' : ''}${timeLost ? 't' : ''}`,
  };
}

export function ocmfRecord(tx: StoredTransaction, ctx: RecordContext): string {
  const end = endValues(tx, ctx);
  const quality = readingQuality(tx);
  const itName = IDENTIFICATION_TYPES[tx.identificationType] ?? 'NONE';
  const comma = tx.clientId.lastIndexOf(',');
  const idData = comma >= 0 ? tx.clientId.slice(0, comma) : tx.clientId;
  // "If this value [IT] is not set, ID is set to the transaction id" (COMMPROT via MANIFEST).
  const identified = itName !== 'NONE' && idData !== '';
  const c = cable(ctx, tx.cableId);
  const readings: OcmfReading[] = [
    { TM: ocmfTime(tx.startedAtMs, tx.offsetMinutes, 'R'), TX: 'B', RV: kwh(tx.energyImportStartKWh), RI: OBIS_IMPORT, RU: 'kWh', RT: 'DC', EF: quality.EF, ST: quality.ST, UC: { UN: c.cableSpName, UI: c.cableSpId, UR: c.cableSpRes } },
    { RV: kwh(tx.energyExportStartKWh), RI: OBIS_EXPORT, RU: 'kWh', ST: quality.ST },
    // An intermediate read while the transaction runs is a charging reading (TX "C"), not an end reading.
    { TM: ocmfTime(end.stopMs, ctx.offsetAt(end.stopMs), 'R'), TX: tx.running ? 'C' : 'E', RV: kwh(end.importKWh), RI: OBIS_IMPORT, RU: 'kWh', ST: quality.ST },
    { RV: kwh(end.exportKWh), RI: OBIS_EXPORT, RU: 'kWh', ST: quality.ST },
  ];
  const payload: OcmfPayload & Partial<Record<'TT' | 'UV' | 'UD' | 'SC', string | number>> = {
    FV: '1.0',
    GI: 'LEM DCBM',
    GS: ctx.meterId,
    GV: 'v1',
    PG: `T${tx.paginationCounter}`,
    MV: 'LEM',
    MS: ctx.meterId,
    MF: `MU-${ctx.firmware.application}_SU-${ctx.firmware.sensor}`,
    IS: identified,
    IL: identified ? ctx.identificationLevel : 'NONE',
    IF: ctx.identificationFlags,
    IT: itName,
    ID: identified ? idData : tx.transactionId,
    CT: 'EVSEID',
    CI: tx.evseId,
    ...(tx.v2 ? { TT: tx.v2.TT, UV: tx.v2.UV, UD: tx.v2.UD, SC: tx.v2.SC } : {}),
    RD: readings,
  };
  const payloadText = JSON.stringify(payload);
  return formatOcmf(payloadText, { SA: OCMF_SIGNATURE_ALGORITHM, SD: ctx.keys.sign(payloadText) });
}
