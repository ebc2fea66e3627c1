/** `charger-controller run`: the controller process, until SIGINT/SIGTERM (SIGHUP reloads the log level only). */
import { loadControllerConfig, type ControllerConfig } from '../config/controller.config.js';
import { createProcessLogger } from '../logger.js';
import { startController } from '../main.js';
import { integerOption, logFormatOption, parseOptions, untilSignal } from './args.js';
import { reloadOnHangup } from './hangup.js';

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
  --log-format <format>  pretty (coloured lines for a person) or json (JSON lines); default: pretty when
                         stdout is a terminal, json otherwise
  -h, --help             show this help

Environment: CHARGER_FEED_TOKEN sets feed.token; LOG_LEVEL sets the log level (over the config's log.level);
CHARGER_LOG_FORMAT sets the log format (the flag wins).

HTTP, on the feed's port: /healthz (200 or 503 with JSON), /metrics (Prometheus), / (the inspector).
Signals: SIGTERM or SIGINT stop it cleanly. SIGHUP re-reads the config file and applies only log.level (unless
--log-level is given); any other change needs a restart, which the warn line it logs says.
`;

export async function run(args: string[]): Promise<number> {
  const o = parseOptions(args, {
    config: { type: 'string' }, 'feed-port': { type: 'string' }, 'warmup-ms': { type: 'string' }, 'state-dir': { type: 'string' },
    'log-level': { type: 'string' }, 'log-format': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (o.help) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  // Every config problem, files included, is a ConfigError: the CLI lists them and exits 2, as config check does.
  const config: ControllerConfig | undefined = o.config ? await loadControllerConfig(o.config, process.env, { files: true, stateDir: o['state-dir'] }) : undefined;
  // --log-level, then LOG_LEVEL, then the config's log.level.
  const log = await createProcessLogger({ level: o['log-level'] ?? process.env.LOG_LEVEL ?? config?.log.level, format: logFormatOption(o['log-format']) });
  for (const note of config?.notes ?? []) log.info(note);
  reloadOnHangup({ log, configFile: o.config, running: config, levelPinned: o['log-level'] !== undefined || process.env.LOG_LEVEL !== undefined });
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
