/**
 * The simulated LEM DCBM 400/600 device: identity, status and error words, clock and time-sync validity,
 * settings with the unreliable window after boot, transactions with their preconditions and limits, and the
 * logbook. It knows nothing of HTTP: requests arrive as parsed values and refusals leave as `DeviceReject`.
 * Section numbers refer to `reference/lem-dcbm-api.md`.
 */
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import {
  decodeWord, encodeWord, ERROR_BITS, STATUS_BITS, startBlockers, type StatusFlag,
} from '../../domain/dcbm-status.js';
import { apiVersionOfFirmware, type ApiVersion } from '../../domain/firmware.js';
import { isoWithOffset, naiveLocal } from '../../domain/local-time.js';
import { describeIssues } from '../../domain/validation.js';
import { SimClock } from './clock.js';
import { DeviceKeys } from './keys.js';
import { StartV1Schema, StartV2Schema, StopSchema, type StartBody } from './legal-schemas.js';
import { Logbook } from './logbook.js';
import type { MeterSimulatorOptions, RejectionKind } from './options.js';
import { legalRecord, ocmfRecord, type RecordContext } from './records.js';
import { Registers, type MeasurementOverrides } from './registers.js';
import { defaultSettings, localOffsetMinutes, renderSettings, SettingsWriteSchema, type DeviceSettings } from './settings.js';
import { TransactionStore, type StoredTransaction } from './transaction-store.js';

export class DeviceReject extends Error {
  constructor(readonly kind: RejectionKind, message: string) {
    super(message);
    this.name = 'DeviceReject';
  }
}

export type RecordSelector =
  | { kind: 'current' }
  | { kind: 'id'; id: string }
  | { kind: 'slot'; slot: number }
  | { kind: 'age'; age: number };

/** Live conditions a test can raise (reference §5.4). */
export interface DeviceConditions {
  linkOk: boolean;
  tampering: boolean;
  overTemperature: boolean;
  /** Latches until the next power cycle once raised (OPMAN p.78–79). */
  reversedVoltage: boolean;
  measureFailure: boolean;
}

export type DeviceChange = Partial<DeviceConditions> & { errors?: number | undefined } & {
  [K in keyof MeasurementOverrides]?: number | null | undefined;
};

export interface SettingsWriteResult {
  body: { meterId: string; result: 0 | 1; error?: string };
  tlsChanged: boolean;
}

const RAISED_FLAGS = ['muFatalErrorOccured', 'tamperingIsDetected', 'overTemperatureIsDetected', 'reversedVoltage', 'suMeasureFailureOccurred'] as const;
const NOMINAL_FLAGS = ['suLinkStatusIsOk', 'timeSyncStatusIsOk'] as const;
const bit = (flag: StatusFlag): number => 1 << STATUS_BITS[flag];
const authTag = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16).toUpperCase();

export class MeterDevice {
  readonly clock: SimClock;
  readonly keys: DeviceKeys;
  readonly store: TransactionStore;
  readonly registers: Registers;
  readonly logbook: Logbook;
  settings: DeviceSettings;
  conditions: DeviceConditions = { linkOk: true, tampering: false, overTemperature: false, reversedVoltage: false, measureFailure: false };
  /** The error word; errors latch until a power cycle (OPMAN p.81). */
  errors = 0;
  bootedAtMs: number;
  #deviceOffsetMs = 0;
  #timeValidUntilMs: number;
  /** Undo steps for settings written inside the unreliable window after boot, by setting path. */
  readonly #unpersisted = new Map<string, () => void>();

  constructor(readonly options: MeterSimulatorOptions, readonly tlsCertPem: string) {
    this.clock = options.clock ?? new SimClock();
    this.keys = new DeviceKeys(options.signingKeyPem);
    this.store = new TransactionStore(options.capacity, options.searchDepth);
    this.registers = new Registers(this.clock, options);
    this.settings = defaultSettings(options.tls);
    this.bootedAtMs = this.clock.now();
    this.#timeValidUntilMs = options.timeSynced ? this.clock.now() + options.timeValidityMs : this.clock.now();
    this.logbook = new Logbook(options.logbookCapacity, () => {
      this.errors |= 1 << ERROR_BITS.logbookIsFull;
    });
    this.#log('EV_POWER_UP');
  }

  // ---- clock and status -------------------------------------------------------------------------------------

  utcNow(): number {
    return this.clock.now() + this.#deviceOffsetMs;
  }

  offsetAt(utcMs: number): number {
    return localOffsetMinutes(this.settings, utcMs);
  }

  apiServed(version: ApiVersion): boolean {
    if (version === 'v1') return true;
    const { api, applicationFirmwareVersion } = this.options;
    return api === 'v2' || (api === 'auto' && apiVersionOfFirmware(applicationFirmwareVersion) === 'v2');
  }

  #timeValid(): boolean {
    const { ntp } = this.settings;
    const ntpConfigured = ntp.ntpActivated && ntp.servers.some((s) => s.ipAddress !== '');
    // NTP keeps the validity fresh while a server answers; time cannot be set during a transaction (OPMAN p.86).
    if (ntpConfigured && this.options.ntpReachable && !this.store.running()) {
      this.#timeValidUntilMs = this.clock.now() + this.options.timeValidityMs;
    }
    return this.clock.now() < this.#timeValidUntilMs;
  }

  /** Current status flags; while a transaction runs, raised and lost flags are folded into its record. */
  statusFlags(): Record<StatusFlag, boolean> {
    const running = this.store.running();
    const flags: Record<StatusFlag, boolean> = {
      suLinkStatusIsOk: this.conditions.linkOk,
      muFatalErrorOccured: this.errors !== 0,
      transactionIsOnGoing: running !== undefined,
      tamperingIsDetected: this.conditions.tampering,
      timeSyncStatusIsOk: this.#timeValid(),
      overTemperatureIsDetected: this.conditions.overTemperature,
      reversedVoltage: this.conditions.reversedVoltage,
      suMeasureFailureOccurred: this.conditions.measureFailure,
    };
    if (running) {
      for (const flag of RAISED_FLAGS) if (flags[flag]) running.raisedFlags |= bit(flag);
      for (const flag of NOMINAL_FLAGS) if (!flags[flag]) running.droppedFlags |= bit(flag);
      running.errorsDuring |= this.errors;
    }
    return flags;
  }

  statusValue(): number {
    return encodeWord(STATUS_BITS, this.statusFlags());
  }

  statusBody(ipAddress: string): Record<string, unknown> {
    const flags = this.statusFlags();
    const latest = this.store.latest();
    const o = this.options;
    return {
      status: { value: encodeWord(STATUS_BITS, flags), bits: flags },
      version: {
        applicationFirmwareVersion: o.applicationFirmwareVersion,
        applicationFirmwareAuthTag: authTag(`app${o.applicationFirmwareVersion}`),
        legalFirmwareVersion: o.legalFirmwareVersion,
        legalFirmwareAuthTag: authTag(`legal${o.legalFirmwareVersion}`),
        sensorFirmwareVersion: o.sensorFirmwareVersion,
        sensorFirmwareCrc: authTag(`su${o.sensorFirmwareVersion}`).slice(0, 8),
      },
      time: isoWithOffset(this.utcNow(), this.offsetAt(this.utcNow())),
      ipAddress,
      meterId: o.meterId,
      errors: { value: this.errors, bits: decodeWord(ERROR_BITS, this.errors) },
      publicKey: this.keys.publicKey,
      publicKeyOcmf: this.keys.publicKeyOcmf,
      indexOfLastTransaction: latest?.slot ?? 0,
      numberOfStoredTransactions: this.store.size,
    };
  }

  liveMeasure(): Record<string, unknown> {
    this.statusFlags();
    const utc = this.utcNow();
    const offset = this.offsetAt(utc);
    const timestamp = this.options.livemeasureTimestamp === 'naive' ? naiveLocal(utc, offset) : isoWithOffset(utc, offset);
    return { ...this.registers.read(), timestamp };
  }

  // ---- transactions -----------------------------------------------------------------------------------------

  #recordContext(): RecordContext {
    const live = this.registers.read();
    return {
      meterId: this.options.meterId,
      keys: this.keys,
      settings: this.settings,
      firmware: { application: this.options.applicationFirmwareVersion, sensor: this.options.sensorFirmwareVersion },
      identificationLevel: this.options.identificationLevel,
      identificationFlags: this.options.identificationFlags,
      now: { utcMs: this.utcNow(), importKWh: live.energyImportTotal, exportKWh: live.energyExportTotal },
      offsetAt: (utcMs) => this.offsetAt(utcMs),
    };
  }

  #select(selector: RecordSelector): StoredTransaction {
    const { store } = this;
    const found =
      selector.kind === 'current' ? store.running() ?? store.latest()
      : selector.kind === 'id' ? store.byTransactionId(selector.id)
      : selector.kind === 'slot' ? store.bySlot(selector.slot)
      : store.byAge(selector.age);
    if (!found) {
      const what = selector.kind === 'current' ? 'no transaction has been recorded yet' : `no transaction matches ${JSON.stringify(selector)}`;
      throw new DeviceReject('unknownTransaction', what);
    }
    return found;
  }

  legal(selector: RecordSelector): Record<string, unknown> {
    this.statusFlags();
    return legalRecord(this.#select(selector), this.#recordContext());
  }

  ocmf(selector: RecordSelector): string {
    this.statusFlags();
    return ocmfRecord(this.#select(selector), this.#recordContext());
  }

  start(body: unknown, api: ApiVersion): Record<string, unknown> {
    const parsed = v.safeParse(api === 'v2' ? StartV2Schema : StartV1Schema, body);
    if (!parsed.success) throw new DeviceReject('badRequest', `invalid start request: ${describeIssues(parsed.issues)}`);
    const flags = this.statusFlags();
    if (flags.transactionIsOnGoing) throw new DeviceReject('alreadyRunning', 'a transaction is already running');
    const blockers = startBlockers(flags, this.errors);
    if (blockers.length) throw new DeviceReject('preconditionFailed', `transaction refused: ${blockers.join(', ')}`);

    const req: StartBody = parsed.output;
    const live = this.registers.read();
    const utc = this.utcNow();
    const record = this.store.add({
      transactionId: req.transactionId,
      evseId: req.evseId,
      clientId: req.clientId,
      tariffId: req.tariffId,
      cableId: req.cableId,
      userData: req.userData,
      ...(api === 'v2' ? { v2: { TT: req.TT ?? '', UV: req.UV ?? '', UD: req.UD ?? '', SC: req.SC ?? 0 } } : {}),
      identificationType: this.settings.IT,
      startedAtMs: utc,
      offsetMinutes: this.offsetAt(utc),
      statusAtStart: encodeWord(STATUS_BITS, flags),
      raisedFlags: 0,
      droppedFlags: 0,
      errorsDuring: 0,
      energyImportStartKWh: live.energyImportTotal,
      energyExportStartKWh: live.energyExportTotal,
      running: true,
    });
    this.registers.setCharging(true);
    this.#log('EV_TRANSACTION_STARTED');
    return { ...req, running: true, [this.options.slotField]: record.slot };
  }

  stop(transactionId: string | undefined, body: unknown): Record<string, unknown> {
    if (!transactionId) throw new DeviceReject('badRequest', 'the transactionId query parameter is required');
    const parsed = v.safeParse(StopSchema, body);
    if (!parsed.success) throw new DeviceReject('badRequest', `invalid stop request: ${describeIssues(parsed.issues)}`);
    const record = this.#select({ kind: 'id', id: transactionId });
    if (!record.running) {
      if (this.options.stopNotRunning === 'record') return this.legal({ kind: 'slot', slot: record.slot });
      throw new DeviceReject('notRunning', `transaction ${transactionId} is not running`);
    }
    if (this.options.earlyStop === 'reject' && this.utcNow() - record.startedAtMs < this.options.minTransactionMs) {
      throw new DeviceReject('earlyStop', `transaction ${transactionId} has run for less than the minimum duration`);
    }
    this.#close(record, 'stop');
    return legalRecord(record, this.#recordContext());
  }

  #close(record: StoredTransaction, closedBy: 'stop' | 'powerLoss'): void {
    this.statusFlags();
    const live = this.registers.read();
    record.running = false;
    record.closedBy = closedBy;
    record.stoppedAtMs = this.utcNow();
    record.energyImportStopKWh = live.energyImportTotal;
    record.energyExportStopKWh = live.energyExportTotal;
    this.registers.setCharging(false);
    this.#log('EV_TRANSACTION_STOPPED');
  }

  // ---- settings ---------------------------------------------------------------------------------------------

  settingsBody(): Record<string, unknown> {
    return renderSettings(this.settings, this.options.meterId, new Date(this.utcNow()).toISOString());
  }

  /** Applies a settings write. `body` is the parsed JSON; schema failures answer `result: 0` with a reason. */
  writeSettings(body: unknown): SettingsWriteResult {
    const reject = (error: string): SettingsWriteResult => ({ body: { meterId: this.options.meterId, result: 0, error }, tlsChanged: false });
    const parsed = v.safeParse(SettingsWriteSchema, body);
    if (!parsed.success) return reject(`invalid settings: ${describeIssues(parsed.issues)}`);
    const write = parsed.output;
    if (this.store.running() && (write.time || this.options.settingsLockedDuringTransaction === 'all')) {
      return reject('settings cannot be changed during a transaction');
    }
    const early = this.clock.now() - this.bootedAtMs < this.options.bootSettleMs;
    const s = this.settings;
    const track = (path: string, undo: () => void): void => {
      if (!early) this.#unpersisted.delete(path);
      else if (!this.#unpersisted.has(path)) this.#unpersisted.set(path, undo);
    };
    const tlsBefore = s.tlsOn;

    if (write.time?.utc !== undefined) {
      const offset = this.#deviceOffsetMs;
      const validUntil = this.#timeValidUntilMs;
      const ntpActivated = s.ntp.ntpActivated;
      track('time.utc', () => {
        this.#deviceOffsetMs = offset;
        this.#timeValidUntilMs = validUntil;
        s.ntp.ntpActivated = ntpActivated;
      });
      this.#deviceOffsetMs = Date.parse(write.time.utc) - this.clock.now();
      this.#timeValidUntilMs = this.clock.now() + this.options.timeValidityMs;
      s.ntp.ntpActivated = false; // a command sync disables NTP (OPMAN p.86–90)
      this.#log('EV_TIME_SYNC_SUCCEEDED');
    }
    if (write.time?.tz !== undefined) {
      const old = s.tz;
      track('time.tz', () => { s.tz = old; });
      s.tz = write.time.tz;
    }
    if (write.time?.dst !== undefined) {
      const old = s.dst;
      track('time.dst', () => { s.dst = old; });
      s.dst = write.time.dst;
    }
    if (write.ntp) {
      const old = structuredClone(s.ntp);
      track('ntp', () => { s.ntp = old; });
      s.ntp = { ...s.ntp, ...write.ntp };
    }
    if (write.ocmfId) {
      const old = s.IT;
      track('ocmfId.IT', () => { s.IT = old; });
      s.IT = write.ocmfId.IT;
    }
    if (write.http) {
      const old = s.tlsOn;
      track('http.tls_on', () => { s.tlsOn = old; });
      s.tlsOn = write.http.tls_on;
    }
    if (write.cableConf) {
      const old = s.cableConf;
      track('cableConf', () => { s.cableConf = old; });
      s.cableConf = write.cableConf;
    }
    this.#log('EV_SETTINGS_CHANGED');
    return { body: { meterId: this.options.meterId, result: 1 }, tlsChanged: s.tlsOn !== tlsBefore };
  }

  certificateBody(): { certificate: string } {
    // The device drops the newline after the BEGIN line and before the END line (reference §2.2, §3.9).
    const pem = this.tlsCertPem.trim()
      .replace('-----BEGIN CERTIFICATE-----\n', '-----BEGIN CERTIFICATE-----')
      .replace('\n-----END CERTIFICATE-----', '-----END CERTIFICATE-----');
    return { certificate: pem };
  }

  logbookBody(): Record<string, unknown> {
    return { meterId: this.options.meterId, logbook: this.logbook.entries() };
  }

  // ---- fault injection --------------------------------------------------------------------------------------

  /** Changes live conditions; a measurement override of `null` returns that value to the built-in profile. */
  setConditions(change: DeviceChange): void {
    this.statusFlags(); // fold the state before the change into a running transaction
    const { errors, powerKw, voltageV, temperatureH, temperatureL, ...conditions } = change;
    if (conditions.reversedVoltage === false && this.conditions.reversedVoltage) delete conditions.reversedVoltage; // latched
    Object.assign(this.conditions, conditions);
    if (errors !== undefined) this.errors |= errors; // errors latch: only a power cycle clears them
    for (const [key, value] of Object.entries({ powerKw, voltageV, temperatureH, temperatureL })) {
      if (value !== undefined) this.registers.overrides[key as keyof MeasurementOverrides] = value === null ? undefined : value;
    }
    if (conditions.tampering) this.#log('EV_TAMPERING_DETECTED');
    this.statusFlags();
  }

  /** Caps the charging power (kW; undefined lifts it), as a charger applying a grid limit would. */
  setPowerLimit(kw: number | undefined): void {
    this.registers.update();
    this.registers.limitKw = kw;
  }

  /** Makes the time sync expire now, as if the last sync were 48 h ago. */
  expireTimeSync(): void {
    this.statusFlags();
    this.#timeValidUntilMs = this.clock.now();
    this.statusFlags();
  }

  /**
   * A power cycle: a running transaction is closed (or, by option, left open), settings written in the
   * unreliable window are lost (by option), latched errors and reversed voltage clear, stored data stays.
   */
  powerCycle(downMs = 0): void {
    const running = this.store.running();
    if (running && this.options.closeTransactionOnPowerLoss) this.#close(running, 'powerLoss');
    this.#log('EV_POWER_SUPPLY_FAILURE');
    if (this.options.earlyWritesLostOnReboot) for (const undo of [...this.#unpersisted.values()].reverse()) undo();
    this.#unpersisted.clear();
    this.conditions.reversedVoltage = false;
    this.errors &= 1 << ERROR_BITS.logbookIsFull; // a full logbook stays full
    this.bootedAtMs = this.clock.now() + downMs;
    this.registers.setCharging(this.store.running() !== undefined);
    this.#log('EV_POWER_UP');
  }

  #log(eventCode: string): void {
    const flags = this.statusFlags();
    this.logbook.append(new Date(this.utcNow()).toISOString().replace(/\.\d{3}Z$/, 'Z'), eventCode, flags);
  }
}
