/** Small helpers for the command line: typed option parsing with clear errors, and usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { chooseLogFormat, LOG_FORMATS, type LogFormat } from '../logger.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function integerOption(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

export function choiceOption<C extends string>(name: string, text: string | undefined, choices: readonly C[]): C | undefined {
  if (text === undefined) return undefined;
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got "${text}"`);
  return text as C;
}

/** `--log-format`, else `CHARGER_LOG_FORMAT`, else pretty on a terminal and JSON lines otherwise. */
export function logFormatOption(text: string | undefined): LogFormat {
  const flag = choiceOption('log-format', text, LOG_FORMATS);
  try {
    return chooseLogFormat(flag);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * Resolves when the process is asked to stop (SIGINT or SIGTERM). SIGHUP is not a stop: see `onHangup`, which
 * `run` installs before anything starts, so a hang-up never kills the process silently (Node's default for SIGHUP
 * without a listener is to exit with 129).
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Calls `handler` on every SIGHUP (instead of dying); returns the function that removes it. */
export function onHangup(handler: () => void): () => void {
  const listener = (): void => handler();
  process.on('SIGHUP', listener);
  return () => process.off('SIGHUP', listener);
}
