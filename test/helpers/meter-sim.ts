/** Test fixture: a meter simulator on an ephemeral loopback port (with its admin port), closed after each test. */
import { afterEach } from 'vitest';
import { startMeterSimulator, type MeterSimulator, type MeterSimulatorInput } from '../../src/simulators/lem-dcbm/index.js';

const running = new Set<MeterSimulator>();

afterEach(async () => {
  await Promise.all([...running].map((sim) => sim.close()));
  running.clear();
});

export async function meterSim(input: MeterSimulatorInput = {}): Promise<MeterSimulator> {
  const sim = await startMeterSimulator({ port: 0, adminPort: 0, ...input });
  running.add(sim);
  return sim;
}

export const START_V1 = { evseId: 'mock_evse_id', transactionId: 'mock_transaction_id', clientId: ',mock_transaction_id', tariffId: 0, cableId: 0, userData: '' };
