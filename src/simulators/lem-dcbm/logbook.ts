/**
 * The meter's event logbook (OPMAN p.83): each event carries a UTC timestamp, an event code and the status
 * flags that held. After `capacity` events the device raises `logbookIsFull` for good and records nothing more.
 */
import type { StatusFlag } from '../../domain/dcbm-status.js';

export interface LogbookEntry {
  timestamp: string;
  eventCode: string;
  status: string[];
}

const STATUS_NAMES: Record<StatusFlag, string> = {
  suLinkStatusIsOk: 'STATUS_SENSOR_LINK',
  muFatalErrorOccured: 'STATUS_FATAL_ERROR',
  transactionIsOnGoing: 'STATUS_TRANSACTION',
  tamperingIsDetected: 'STATUS_TAMPERING',
  timeSyncStatusIsOk: 'STATUS_TIME_SYNC',
  overTemperatureIsDetected: 'STATUS_OVER_TEMPERATURE',
  reversedVoltage: 'STATUS_REVERSED_VOLTAGE',
  suMeasureFailureOccurred: 'STATUS_MEASURE_FAILURE',
};

export class Logbook {
  readonly #entries: LogbookEntry[] = [];

  constructor(private readonly capacity: number, private readonly onFull: () => void) {}

  get full(): boolean {
    return this.#entries.length >= this.capacity;
  }

  append(timestamp: string, eventCode: string, flags: Record<StatusFlag, boolean>): void {
    if (this.full) return;
    const status = (Object.keys(STATUS_NAMES) as StatusFlag[]).filter((f) => flags[f]).map((f) => STATUS_NAMES[f]);
    this.#entries.push({ timestamp, eventCode, status });
    if (this.full) this.onFull();
  }

  entries(): readonly LogbookEntry[] {
    return this.#entries;
  }
}
