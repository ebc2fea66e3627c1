/**
 * Structured logging (pino, JSON lines on stdout). Secrets never reach a log line: the redact list covers the
 * config keys and headers that can hold them.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'token', '*.token', 'feed.token', 'authorization', '*.authorization', 'headers.authorization',
  'keyPem', '*.keyPem', 'privateKey', '*.privateKey', 'password', '*.password',
];

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? 'charger-controller',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
