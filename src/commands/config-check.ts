/** `charger-controller config check <file>`: validates a controller config and reports every problem. */
import { loadControllerConfig } from '../config/controller.config.js';
import { parseOptions, UsageError } from './args.js';

export const CONFIG_CHECK_HELP = `Usage: charger-controller config check <file>

Validates a controller config (JSON, or YAML by the .yaml/.yml extension): every problem is listed with its path,
and the exit code is 0 when the config is valid, 2 when it is not.
`;

export async function configCheck(args: string[]): Promise<number> {
  const [file, ...rest] = args;
  if (file === '--help' || file === '-h') {
    process.stdout.write(CONFIG_CHECK_HELP);
    return 0;
  }
  parseOptions(rest, {});
  if (!file) throw new UsageError('config check needs a file: charger-controller config check <file>');
  const config = await loadControllerConfig(file);
  process.stdout.write(`${file}: valid. ${config.meters.length} meter(s): ${config.meters.map((m) => `${m.name} (${m.ip_address}:${m.port}${m.meter_tls_certificate ? ', TLS pinned' : ''})`).join(', ')}; `
    + `registration: ${config.registration ? `${config.registration.mode} at ${config.registration.server.url}` : 'off'}; `
    + `feed: ${config.feed.host}:${config.feed.port}, commands ${config.feed.token ? 'on (token set)' : 'off (no token)'}.\n`);
  return 0;
}
