/**
 * The composition root: config → adapters → `machine.provide(...)` → actors. It starts one meter driver per
 * configured meter, logs what they do, and stops them in order. With no config, it first starts an embedded LEM
 * DCBM simulator and points a meter at it, so the whole controller runs on a machine with no hardware.
 */
import type { AnyEventObject } from 'xstate';
import { createMeterDriver, type MeterDriver } from './adapters/lem-dcbm/meter.driver.js';
import { parseMeterConfig } from './config/meter.config.js';
import type { ControllerConfig } from './config/controller.config.js';
import type { Logger } from './logger.js';
import { startMeterSimulator, type MeterSimulator } from './simulators/lem-dcbm/index.js';

export interface Controller {
  readonly drivers: MeterDriver[];
  readonly simulators: MeterSimulator[];
  stop(): Promise<void>;
}

/** Logs each meter's state changes, transactions and faults; readings at debug level. */
function observe(driver: MeterDriver, log: Logger): void {
  const meterLog = log.child({ meter: driver.name });
  let previous = '';
  driver.actor.subscribe({
    next: (snapshot) => {
      const value = JSON.stringify(snapshot.value);
      if (value !== previous) meterLog.debug({ state: snapshot.value }, 'state');
      previous = value;
    },
    error: (error) => meterLog.error({ err: error }, 'meter actor failed'),
  });
  driver.actor.on('*', (event: AnyEventObject) => {
    switch (event.type) {
      case 'reading': meterLog.debug({ reading: event.reading }, 'reading'); break;
      case 'identity': meterLog.info({ meterId: event.meterId, firmware: event.firmware, api: event.api }, 'meter connected'); break;
      case 'fault.raised': meterLog.warn({ fault: event.fault, message: event.message }, 'fault raised'); break;
      case 'fault.cleared': meterLog.info({ fault: event.fault }, 'fault cleared'); break;
      case 'warning': meterLog.warn(event.message); break;
      case 'transaction.started': meterLog.info({ transactionId: event.transactionId, response: event.response }, 'transaction start'); break;
      case 'transaction.stopped': meterLog.info({ transactionId: event.transactionId, status: event.response.status, final: event.final, error: event.response.error }, 'transaction stop'); break;
      default: break;
    }
  });
}

export async function startController(config: ControllerConfig | undefined, log: Logger): Promise<Controller> {
  const simulators: MeterSimulator[] = [];
  let effective = config;
  if (!effective) {
    const sim = await startMeterSimulator({ host: '127.0.0.1', port: 0 });
    simulators.push(sim);
    const meter = parseMeterConfig({ name: 'meter', evse_id: 'DE*CHC*E1', ip_address: '127.0.0.1', port: sim.port });
    if (!meter.ok) throw new Error(`embedded config is invalid: ${meter.problems.join('; ')}`);
    effective = { meters: [meter.value], log: { level: 'info' } };
    log.info({ meterSimulator: sim.url() }, 'no config given: running the embedded demo against an in-process LEM DCBM simulator (no hardware)');
  }
  const drivers = effective.meters.map((meter) => createMeterDriver(meter));
  for (const driver of drivers) {
    observe(driver, log);
    driver.actor.start();
    log.info({ meter: driver.name, url: driver.client.baseUrl, tls: driver.client.baseUrl.startsWith('https') }, 'meter driver started');
  }
  return {
    drivers,
    simulators,
    async stop() {
      await Promise.all(drivers.map((d) => d.stop()));
      await Promise.all(simulators.map((s) => s.close()));
    },
  };
}
