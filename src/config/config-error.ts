/** A config that cannot run: every problem, each `path: message`; the CLI prints them and exits 2 (no stack trace). */
export class ConfigError extends Error {
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source} is not a valid config:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}
