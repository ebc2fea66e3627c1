/**
 * What the charger reports of itself in DERStatus and DERAvailability (IEEE 2030.5 §10.10.4, CSIP-AUS; CACTUS ALL-07
 * genConnectStatus, ALL-08 operationalModeStatus), from its real state. Pure.
 *
 * An EV charger is a load: it never generates. The mapping:
 * - **connected** (genConnectStatus bit 0): its meter answers and no `opModConnect: false` is in force;
 * - **available** (bit 1): connected, and neither `opModEnergize: false` nor a charge limit of 0 W holds it off;
 * - **operating** (bit 2): available and a transaction is open (a vehicle is being charged);
 * - `operationalModeStatus` 2 (operational) while operating, else 1 (off);
 * - `inverterStatus` 1 (off) unless available; 5 (forced power reduction) while operating under a limit below its
 *   rating; else 3 (on, not producing power: a load never produces);
 * - `stateOfChargeStatus` is not reported: the DC meter does not know the vehicle's state of charge;
 * - DERAvailability `statWAvail`: the power it could still draw now, min(limit, rating) − its draw, 0 if unavailable.
 */

export interface DerCondition {
  /** The charger's meters answer (a communication fault clears it). */
  meterConnected: boolean;
  /** A transaction is open on one of its meters. */
  charging: boolean;
  /** The charger's draw now, W (positive = import). */
  powerW: number;
  ratedW: number;
  /** The grid limit in force (from the DER client), if any is known. */
  chargeLimitW: number | null;
  connect: boolean | null;
  energize: boolean | null;
}

export interface DerReport {
  genConnectStatus: number;
  operationalModeStatus: 1 | 2;
  inverterStatus: 1 | 3 | 5;
  statWAvailW: number;
}

export const GEN_CONNECTED = 0x01;
export const GEN_AVAILABLE = 0x02;
export const GEN_OPERATING = 0x04;

export function derReport(c: DerCondition): DerReport {
  const connected = c.meterConnected && c.connect !== false;
  const available = connected && c.energize !== false && c.chargeLimitW !== 0;
  const operating = available && c.charging;
  const ceiling = Math.min(c.chargeLimitW ?? c.ratedW, c.ratedW);
  return {
    genConnectStatus: (connected ? GEN_CONNECTED : 0) | (available ? GEN_AVAILABLE : 0) | (operating ? GEN_OPERATING : 0),
    operationalModeStatus: operating ? 2 : 1,
    inverterStatus: !available ? 1 : operating && ceiling < c.ratedW ? 5 : 3,
    statWAvailW: available ? Math.max(0, Math.round(ceiling - Math.max(0, c.powerW))) : 0,
  };
}

/** Whether a new report differs in what is PUT at once (the status); availability alone waits for the next poll. */
export const statusChanged = (a: DerReport | undefined, b: DerReport): boolean =>
  a === undefined || a.genConnectStatus !== b.genConnectStatus || a.operationalModeStatus !== b.operationalModeStatus || a.inverterStatus !== b.inverterStatus;
