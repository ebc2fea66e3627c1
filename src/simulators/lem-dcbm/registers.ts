/**
 * The meter's measurement registers: energy counters that integrate power over simulated time, and live values
 * (voltage, current, power, two temperatures) with a small seeded ripple so runs are reproducible.
 * Units follow the device: kWh, kW, V, A, °C (reference §3.3).
 */
import type { LiveMeasure } from '../../domain/powermeter.js';
import type { SimClock } from './clock.js';
import { prng } from '../../domain/prng.js';

/** The livemeasure values without the timestamp (reference §3.3). */
export type LiveValues = Omit<LiveMeasure, 'timestamp'>;

export interface MeasurementOverrides {
  powerKw?: number | undefined;
  voltageV?: number | undefined;
  temperatureH?: number | undefined;
  temperatureL?: number | undefined;
}


const RAMP_MS = 10_000;
const AMBIENT_C = 25;
const round = (value: number, digits: number): number => Number(value.toFixed(digits));

export class Registers {
  energyImportKWh: number;
  energyExportKWh: number;
  overrides: MeasurementOverrides = {};
  #lastMs: number;
  #chargingSinceMs: number | undefined;
  readonly #random: () => number;

  constructor(
    private readonly clock: SimClock,
    private readonly options: { seed: number; chargePowerKw: number; chargeVoltageV: number; energyImportKWh: number; energyExportKWh: number },
  ) {
    this.energyImportKWh = options.energyImportKWh;
    this.energyExportKWh = options.energyExportKWh;
    this.#lastMs = clock.now();
    this.#random = prng(options.seed);
  }

  /**
   * A ceiling on the charging power, kW, as the charger's power electronics would apply it (the embedded demo sets it
   * from the utility's charge limit): the simulated vehicle draws its demand up to it.
   */
  limitKw: number | undefined;

  /** Power without ripple at an instant, kW (positive = import into the vehicle). */
  #powerAt(ms: number): number {
    const demand = this.overrides.powerKw !== undefined ? this.overrides.powerKw
      : this.#chargingSinceMs === undefined ? 0 : this.options.chargePowerKw * Math.min(1, Math.max(0, ms - this.#chargingSinceMs) / RAMP_MS);
    return this.limitKw !== undefined && demand > this.limitKw ? Math.max(0, this.limitKw) : demand;
  }

  /** Integrates energy up to now, in at most 1000 steps whatever the gap (the clock may have been warped). */
  update(): void {
    const now = this.clock.now();
    const span = now - this.#lastMs;
    if (span <= 0) return;
    const step = Math.max(1000, span / 1000);
    for (let t = this.#lastMs; t < now; t += step) {
      const dt = Math.min(step, now - t);
      const kw = this.#powerAt(t + dt / 2);
      const kwh = (kw * dt) / 3_600_000;
      if (kwh >= 0) this.energyImportKWh += kwh;
      else this.energyExportKWh -= kwh;
    }
    this.#lastMs = now;
  }

  setCharging(charging: boolean): void {
    this.update();
    this.#chargingSinceMs = charging ? this.clock.now() : undefined;
  }

  read(): LiveValues {
    this.update();
    const ripple = (): number => this.#random() * 2 - 1;
    const base = this.#powerAt(this.clock.now());
    const power = base === 0 ? 0 : base * (1 + 0.002 * ripple());
    const voltage = this.overrides.voltageV ?? (base === 0 ? 0 : this.options.chargeVoltageV + 0.5 * ripple());
    const current = voltage === 0 ? 0 : (power * 1000) / voltage;
    const load = this.options.chargePowerKw > 0 ? Math.abs(base) / this.options.chargePowerKw : 0;
    return {
      voltage: round(voltage, 2),
      current: round(current, 2),
      power: round(power, 3),
      temperatureH: round(this.overrides.temperatureH ?? AMBIENT_C + 12 * load + 0.2 * ripple(), 1),
      temperatureL: round(this.overrides.temperatureL ?? AMBIENT_C + 4 * load + 0.2 * ripple(), 1),
      energyImportTotal: round(this.energyImportKWh, 3),
      energyExportTotal: round(this.energyExportKWh, 3),
    };
  }
}
