/**
 * The loop closed, as `npm start` runs it: the embedded demo (in-process meter simulator and 2030.5 test server,
 * mutual TLS), the controller registered and following its DER program. The feed shows the default limit, then a
 * control given through the test server's admin API at its start, back to the default at its end; the snapshot
 * carries `gridLimits`; the server records the responses; and the simulated charger draws no more than the limit.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { startController, type Controller } from '../../src/main.js';
import { FeedClient } from '../helpers/feed-client.js';
import { request } from '../helpers/http.js';

const dir = mkdtempSync(join(tmpdir(), 'cc-grid-'));
let controller: Controller | undefined;
let client: FeedClient | undefined;
afterAll(async () => {
  await client?.closeAndWait();
  await controller?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the charger obeys the grid (embedded demo)', () => {
  it('follows the default, then a control at its start and end, and the simulated charger stays under the limit', async () => {
    controller = await startController({ log: createLogger({ level: 'silent' }), feedPort: 0, warmupMs: 0, stateDir: dir, shutdownGraceMs: 300 });
    const demo = controller.demo!;
    const token = readFileSync(join(dir, 'feed-token'), 'utf8').trim();
    client = new FeedClient(controller.feedUrl, { token });
    const first = await client.next((m) => m.type === 'grid.limit', 10_000);
    expect(first.payload).toMatchObject({ site: 'charger', source: 'default', chargeLimitW: 50_000, importLimitW: 50_000, loadLimitW: 50_000, validUntil: null });

    // A utility operator sets a 3 kW import limit from 11 s from now, for 5 s, at once (rampTms 0: the demo's default
    // ramps at setGradW otherwise); the demo polls every 10 s.
    const admin = await request(`${demo.sep2Server.adminUrl!}/_sim/controls`, { method: 'POST', body: JSON.stringify({ primacy: 1, startInS: 11, duration: 5, opModImpLimW: 3000, rampTms: 0, mrid: 'DE0001' }) });
    expect(admin.status).toBeLessThan(300);
    const limited = await client.next((m) => m.type === 'grid.limit' && m.payload.chargeLimitW === 3000, 20_000);
    expect(limited.payload).toMatchObject({ source: 'control', mrid: 'DE0001', importLimitW: 3000, loadLimitW: 50_000 });
    const snapshot = await client.command({ type: 'get_snapshot' });
    expect(snapshot.payload.result.gridLimits.charger).toMatchObject({ chargeLimitW: 3000, source: 'control' });

    // A session while the limit holds: the simulated vehicle draws up to 3 kW.
    const started = await client.command({ type: 'start_transaction', request: { evse_id: 'DE*CHC*E1', transaction_id: 'grid-1', identification_status: 'ASSIGNED', identification_type: 'ISO14443', identification_flags: [] } });
    expect(started.payload.result.status).toBe('OK');
    const reading = await client.next((m) => m.type === 'reading' && m.payload.reading.power_W.total > 0, 8000);
    expect(reading.payload.reading.power_W.total).toBeLessThanOrEqual(3000 * 1.02);

    // At its end the default applies again, ramping back up at its setGradW (10 % of 50 kW per second).
    const back = await client.next((m) => m.type === 'grid.limit' && m.payload.source === 'default' && m.payload.chargeLimitW > 3000, 20_000, limited.seq);
    expect(back.payload.chargeLimitW).toBeLessThan(50_000);
    await client.command({ type: 'stop_transaction', transactionId: 'grid-1' });

    // The server received the responses in order: received, started, completed.
    for (let i = 0; i < 100 && demo.sep2Server.handler.state.responses.filter((r) => r.subject === 'DE0001').length < 3; i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(demo.sep2Server.handler.state.responses.filter((r) => r.subject === 'DE0001').map((r) => r.status)).toEqual([1, 2, 3]);
  }, 60_000);
});
