/**
 * Valibot schemas for every LEM DCBM answer the driver reads (reference §3). Objects are loose: the device may
 * send more fields than the driver uses, and extra fields must be ignored (reference §3.2).
 */
import * as v from 'valibot';

const finite = v.pipe(v.number(), v.finite());

export const StatusSchema = v.looseObject({
  meterId: v.pipe(v.string(), v.minLength(1, 'meterId is empty')),
  publicKeyOcmf: v.string(),
  status: v.looseObject({
    value: v.optional(v.pipe(v.number(), v.integer())),
    bits: v.looseObject({ transactionIsOnGoing: v.boolean() }),
  }),
  version: v.looseObject({ applicationFirmwareVersion: v.string() }),
});

export const LiveMeasureSchema = v.looseObject({
  voltage: finite,
  current: finite,
  power: finite,
  temperatureH: finite,
  temperatureL: finite,
  energyImportTotal: finite,
  energyExportTotal: finite,
  timestamp: v.string(),
});

export const LegalSchema = v.looseObject({
  transactionId: v.string(),
  evseId: v.optional(v.string()),
  meterValue: v.optional(v.looseObject({ timestampStart: v.optional(v.string()) })),
});

export const StartResponseSchema = v.looseObject({ running: v.boolean() });

export const StopResponseSchema = v.looseObject({
  meterValue: v.looseObject({ transactionStatus: v.pipe(v.number(), v.integer()) }),
});

export const SettingsSchema = v.looseObject({
  ocmfId: v.looseObject({ IT: v.pipe(v.number(), v.integer()) }),
});

export const SettingsResultSchema = v.looseObject({ result: v.pipe(v.number(), v.integer()) });

export const CertificateSchema = v.looseObject({ certificate: v.pipe(v.string(), v.minLength(1)) });

/** The two JSON sections of an OCMF record; the payload must carry readings, the signature its data. */
export const OcmfPayloadSchema = v.looseObject({ RD: v.pipe(v.array(v.looseObject({ RV: finite })), v.minLength(1)) });
export const OcmfSignatureSchema = v.looseObject({ SD: v.pipe(v.string(), v.regex(/^[0-9A-Fa-f]+$/, 'SD must be hex')) });
