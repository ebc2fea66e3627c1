/** `charger-controller run`: the controller process, until SIGINT/SIGTERM. */
import { loadControllerConfig, type ControllerConfig } from '../config/controller.config.js';
import { createLogger } from '../logger.js';
import { startController } from '../main.js';
import { integerOption, parseOptions, untilSignal } from './args.js';

export const RUN_HELP = `Usage: charger-controller run [--config <file>] [options]

Runs the controller: one LEM DCBM meter driver per configured meter, 2030.5 registration when configured, and
the WebSocket feed with its command channel (ws://127.0.0.1:8787/feed by default).

Without --config it runs the embedded demo: an in-process LEM DCBM simulator, an in-process 2030.5 test server
(mutual TLS with a fresh test PKI), and the controller connected to both, so it works with no hardware. The
demo writes the feed's command token to <state dir>/feed-token (mode 0600) and allows read-only clients.

Options:
  --config <file>        controller config, JSON or YAML (see the README: Config reference)
  --feed-port <n>        override feed.port (0 = any free port)
  --warmup-ms <n>        override every meter's settings warm-up (default 120000 = the meter's 2 minutes);
                         shorten it only for demos and tests
  --state-dir <dir>      override state_dir (default .charger-controller)
  --log-level <level>    trace (every reading), debug (every state change), info, warn, error
  -h, --help             show this help

Environment: CHARGER_FEED_TOKEN sets feed.token; LOG_LEVEL sets the log level.
`;

export async function run(args: string[]): Promise<number> {
  const o = parseOptions(args, {
    config: { type: 'string' }, 'feed-port': { type: 'string' }, 'warmup-ms': { type: 'string' }, 'state-dir': { type: 'string' },
    'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (o.help) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  const config: ControllerConfig | undefined = o.config ? await loadControllerConfig(o.config) : undefined;
  const log = createLogger({ level: o['log-level'] ?? config?.log.level });
  const controller = await startController({
    config, log,
    feedPort: integerOption('feed-port', o['feed-port'], 0, 65535),
    warmupMs: integerOption('warmup-ms', o['warmup-ms'], 0, 600_000),
    stateDir: o['state-dir'],
  });
  const signal = await untilSignal();
  log.info({ signal }, 'shutting down');
  await controller.stop();
  log.info('stopped');
  return 0;
}
