/** `charger-controller run`: the controller process, until SIGINT/SIGTERM. */
import { loadControllerConfig, type ControllerConfig } from '../config/controller.config.js';
import { createLogger } from '../logger.js';
import { startController } from '../main.js';
import { parseOptions, untilSignal } from './args.js';

export const RUN_HELP = `Usage: charger-controller run [--config <file>] [--log-level <level>]

Runs the controller: one LEM DCBM meter driver per configured meter.

Without --config it runs the embedded demo: an in-process LEM DCBM simulator on a free loopback port and one
meter driver connected to it, so it works on a machine with no hardware.

Options:
  --config <file>       controller config (JSON): {"meters": [ {<LemDCBM400600 keys>}, ... ], "log": {"level": "info"}}
  --log-level <level>   trace, debug (every reading and state), info, warn, error (default: config, else info)
  -h, --help            show this help
`;

export async function run(args: string[]): Promise<number> {
  const o = parseOptions(args, { config: { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (o.help) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  const config: ControllerConfig | undefined = o.config ? await loadControllerConfig(o.config) : undefined;
  const log = createLogger({ level: o['log-level'] ?? config?.log.level });
  const controller = await startController(config, log);
  const signal = await untilSignal();
  log.info({ signal }, 'shutting down');
  await controller.stop();
  log.info('stopped');
  return 0;
}
