/**
 * A process running one site's telemetry, for the crash test: the real meter driver on a meter simulator and the
 * telemetry of an already registered site, over mutual TLS. Its settings come as JSON in TELEMETRY_CHILD; it prints
 * `posted <n>` after each reading posted and runs until it is killed.
 */
import { createMeterDriver } from '../../src/adapters/lem-dcbm/meter.driver.js';
import { Sep2Client } from '../../src/adapters/sep2/sep2.client.js';
import { parseMeterConfig } from '../../src/config/meter.config.js';
import { createLogger } from '../../src/logger.js';
import type { SiteRegistration } from '../../machines/registration/registration.types.js';
import { telemetryClients } from '../../src/wiring/telemetry-events.js';

interface ChildSettings {
  serverUrl: string;
  tls: { certPem: string; keyPem: string; caPem: string };
  site: SiteRegistration;
  endDevice: string;
  meterPort: number;
  stateDir: string;
  options: Record<string, unknown>;
}

const settings = JSON.parse(process.env.TELEMETRY_CHILD ?? '{}') as ChildSettings;
const client = new Sep2Client({ baseUrl: settings.serverUrl, tls: settings.tls, timeoutMs: 2000 });
const parsed = parseMeterConfig({ name: 'evse', ip_address: '127.0.0.1', port: settings.meterPort, warmup_ms: 0, reading_interval_ms: 100, command_timeout_ms: 1000, resilience_initial_connection_retry_delay: 100 });
if (!parsed.ok) throw new Error(parsed.problems.join('; '));
const driver = createMeterDriver(parsed.value);
const telemetry = telemetryClients({
  client, log: createLogger({ level: 'silent' }), stateDir: settings.stateDir, sites: [settings.site], meters: [{ name: 'evse', driver }],
  dcapPath: '/dcap', options: settings.options, onPosted: (_site, total) => process.stdout.write(`posted ${total}\n`),
});
driver.actor.start();
telemetry.start(settings.site.name, settings.endDevice);
process.stdout.write('started\n');
