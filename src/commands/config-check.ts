/**
 * `charger-controller config check <file>`: validates a controller config, or an EVerest config file, and reads
 * every file it names, as `run` does before it connects; reports every problem at once.
 */
import { loadControllerConfig } from '../config/controller.config.js';
import { parseOptions, UsageError } from './args.js';

export const CONFIG_CHECK_HELP = `Usage: charger-controller config check <file>

Validates a controller config (JSON; YAML by the .yaml/.yml extension or when the text is not JSON), or an
EVerest config file (its LemDCBM400600 modules become the meters; other modules are listed as ignored). Checks
what "run" checks before it connects: every key and value, unknown keys (with the key probably meant), duplicate
meter names, and every file the config names (meter_tls_certificate given as a path, registration.tls.certificate,
.key and .ca: they must exist and parse, and the key must belong to the certificate), and that state_dir is
writable. Every problem is listed with its path; the exit code is 0 when the config is valid, 2 when it is not.
`;

export async function configCheck(args: string[]): Promise<number> {
  const [file, ...rest] = args;
  if (file === '--help' || file === '-h') {
    process.stdout.write(CONFIG_CHECK_HELP);
    return 0;
  }
  parseOptions(rest, {});
  if (!file) throw new UsageError('config check needs a file: charger-controller config check <file>');
  const config = await loadControllerConfig(file, process.env, { files: true });
  const meters = config.meters.map((m) => `${m.name} (${m.ip_address}:${m.port}${m.meter_tls_certificate ? ', TLS pinned' : ''})`);
  process.stdout.write(`${file}: valid. ${config.meters.length} meter(s): ${meters.join(', ')}; `
    + `registration: ${config.registration ? `${config.registration.mode} at ${config.registration.server.url}` : 'off'}; `
    + `feed: ${config.feed.host}:${config.feed.port}, commands ${config.feed.token ? 'on (token set)' : 'off (no token)'}.\n`);
  for (const note of config.notes ?? []) process.stdout.write(`  note: ${note}\n`);
  return 0;
}
