/**
 * SIGHUP in `run`: the controller does not die (Node's default) and does not restart its meters, registration or
 * feed either. It re-reads the config file and applies only what is safe to change in a running process, the log
 * level (unless `--log-level` pinned it); every other change is named in the log line, which says a restart is
 * needed to apply it. One warn line per SIGHUP, always, so an operator who sent it sees what happened.
 */
import { loadControllerConfig, type ControllerConfig } from '../config/controller.config.js';
import type { Logger } from '../logger.js';
import { onHangup } from './args.js';

export const HANGUP_MESSAGE = 'SIGHUP: the config is not reloaded (only log.level is); restart the controller to apply other changes';

/** Config sections that need a restart, by their name in the file. */
const RESTART_SECTIONS = [['meters', 'meters'], ['registration', 'registration'], ['feed', 'feed'], ['stateDir', 'state_dir']] as const;

export interface HangupOptions {
  log: Logger;
  /** The `--config` file; undefined for the embedded demo. */
  configFile: string | undefined;
  /** The config the controller started with (from that file). */
  running: ControllerConfig | undefined;
  /** `--log-level` was given: the level stays as the flag set it. */
  levelPinned: boolean;
}

/** Installs the SIGHUP handler; returns the function that removes it. */
export function reloadOnHangup(o: HangupOptions): () => void {
  return onHangup(() => void reload(o));
}

async function reload(o: HangupOptions): Promise<void> {
  const fields: Record<string, unknown> = { signal: 'SIGHUP' };
  let level: string | undefined;
  if (!o.configFile || !o.running) {
    fields.config = 'none (embedded demo): nothing to reload';
  } else {
    try {
      const next = await loadControllerConfig(o.configFile, process.env, { files: true });
      const changed = RESTART_SECTIONS.filter(([key]) => JSON.stringify(next[key]) !== JSON.stringify(o.running![key])).map(([, name]) => name);
      fields.notApplied = changed.length ? changed : 'nothing else changed';
      if (o.levelPinned) fields.logLevel = `${o.log.level} (kept: set by --log-level)`;
      else if (next.log.level !== o.log.level) {
        fields.logLevel = { from: o.log.level, to: next.log.level };
        level = next.log.level;
      } else fields.logLevel = `${o.log.level} (unchanged)`;
    } catch (error) {
      // A broken file changes nothing: the running config stays.
      fields.error = `the config file could not be read, nothing changed: ${(error as Error).message}`;
    }
  }
  o.log.warn(fields, HANGUP_MESSAGE);
  if (level) o.log.level = level;
}
