/**
 * LEM DCBM status and error words (reference §3.1). `value = Σ 2^bit` over the flags that are true.
 * Pure: shared by the device simulator and the meter driver.
 */

export const STATUS_BITS = {
  suLinkStatusIsOk: 0,
  muFatalErrorOccured: 1, // (sic) the device's own spelling
  transactionIsOnGoing: 2,
  tamperingIsDetected: 3,
  timeSyncStatusIsOk: 4,
  overTemperatureIsDetected: 5,
  reversedVoltage: 6,
  suMeasureFailureOccurred: 7,
} as const;
export type StatusFlag = keyof typeof STATUS_BITS;

/**
 * Error bits (OPMAN p.81, p.91: positions are not contiguous). Positions 9..11 are not given by the cited
 * manual page (reference §3.1 marks them inferred); they follow `logbookIntegrityIsFailed` in listing order.
 */
export const ERROR_BITS = {
  muInitIsFailed: 0,
  suStateIsInvalid: 1,
  versionCheckIsFailed: 2,
  muRngInitIsFailed: 3,
  muDataIntegrityIsFailed: 4,
  muFwIntegrityIsFailed: 5,
  suIntegrityIsFailed: 6,
  logbookIntegrityIsFailed: 8,
  logbookIsFull: 9,
  memoryAccessIsFailed: 10,
  muStateIsFailed: 11,
} as const;
export type ErrorFlag = keyof typeof ERROR_BITS;

/** Nominal idle status: link ok + time sync ok. */
export const STATUS_IDLE = 17;
/** Nominal status while a transaction runs. */
export const STATUS_RUNNING = 21;

export function encodeWord<K extends string>(bits: Record<K, number>, flags: Partial<Record<K, boolean>>): number {
  let value = 0;
  for (const name of Object.keys(bits) as K[]) if (flags[name]) value |= 1 << bits[name];
  return value;
}

export function decodeWord<K extends string>(bits: Record<K, number>, value: number): Record<K, boolean> {
  const out = {} as Record<K, boolean>;
  for (const name of Object.keys(bits) as K[]) out[name] = (value & (1 << bits[name])) !== 0;
  return out;
}

/** The flags whose state blocks a new transaction (OPMAN p.71 Table 6, p.79). */
export function startBlockers(status: Record<StatusFlag, boolean>, errorsValue: number): string[] {
  const reasons: string[] = [];
  if (!status.suLinkStatusIsOk) reasons.push('sensor unit link is down');
  if (status.muFatalErrorOccured || errorsValue !== 0) reasons.push('a meter error is active');
  if (status.transactionIsOnGoing) reasons.push('a transaction is already running');
  if (!status.timeSyncStatusIsOk) reasons.push('time synchronisation is not valid');
  return reasons;
}
