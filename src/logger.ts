/**
 * Structured logging (pino). Two formats of the same records: JSON lines (for journald, log shippers and tests) and
 * pretty, coloured lines for a person at a terminal (pino-pretty, run in-process as a plain stream, not as a
 * worker-thread transport, so it costs no extra thread or heap; it is loaded only when chosen). Secrets never
 * reach a log line in either format: the redact list covers the config keys and headers that can hold them, and
 * redaction runs in pino before any formatting.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const REDACTED_PATHS = [
  'token', '*.token', 'feed.token', 'authorization', '*.authorization', 'headers.authorization',
  'keyPem', '*.keyPem', 'privateKey', '*.privateKey', 'password', '*.password',
];

export interface LoggerOptions {
  level?: string | undefined;
  name?: string | undefined;
  /** Where the records go (default: stdout, JSON lines). */
  stream?: DestinationStream | undefined;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    name: options.name ?? 'charger-controller',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.stream ? pino(settings, options.stream) : pino(settings);
}

/**
 * The format to use: the `--log-format` flag, else `CHARGER_LOG_FORMAT`, else pretty on a terminal and JSON
 * otherwise (a pipe, a file, journald). An unknown value in the environment is an error, not silently JSON.
 */
export function chooseLogFormat(flag: LogFormat | undefined, env: string | undefined = process.env.CHARGER_LOG_FORMAT, isTty = process.stdout.isTTY === true): LogFormat {
  if (flag) return flag;
  if (env !== undefined && env !== '') {
    if (!(LOG_FORMATS as readonly string[]).includes(env)) throw new Error(`CHARGER_LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}, got "${env}"`);
    return env as LogFormat;
  }
  return isTty ? 'pretty' : 'json';
}

/**
 * A pino-pretty stream: one line per record, `time LEVEL: <meter or component>: message {fields}`. Colours follow
 * the terminal (NO_COLOR and FORCE_COLOR are honoured). Synchronous writes, like pino's own stdout destination,
 * so the last lines before an exit are not lost.
 */
export async function prettyStream(options: { destination?: NodeJS.WritableStream; colorize?: boolean } = {}): Promise<DestinationStream> {
  const { default: pretty } = await import('pino-pretty');
  return pretty({
    sync: true,
    singleLine: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,name,meter,component',
    messageFormat: '{if meter}{meter}: {end}{if component}{component}: {end}{msg}',
    ...(options.colorize !== undefined ? { colorize: options.colorize } : {}),
    ...(options.destination ? { destination: options.destination } : {}),
  });
}

/** The process logger of a command: JSON lines or pretty lines, by `chooseLogFormat`. */
export async function createProcessLogger(options: { level?: string | undefined; format: LogFormat; name?: string }): Promise<Logger> {
  return createLogger({ level: options.level, name: options.name, stream: options.format === 'pretty' ? await prettyStream() : undefined });
}
