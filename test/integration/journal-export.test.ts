/**
 * `journal export` through the compiled CLI, on a journal a real transaction on the meter simulator produced:
 * JSON lines with each transaction's energy and duration, and the S.A.F.E. e.V. transparency software's XML
 * (`<values><value transactionId context><publicKey encoding="hex"/><signedData format="OCMF" encoding="plain"/>`),
 * whose record verifies with the key it carries. The controller's stop log line carries the same energy and duration.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { parseControllerConfig } from '../../src/config/controller.config.js';
import { summarizeOcmf } from '../../src/domain/ocmf-summary.js';
import { safeXml } from '../../src/domain/safe-xml.js';
import { createLogger } from '../../src/logger.js';
import { startController, type Controller } from '../../src/main.js';
import { runCli } from '../helpers/cli.js';
import { FeedClient } from '../helpers/feed-client.js';
import { meterSim } from '../helpers/meter-sim.js';
import { verifyOcmf } from '../helpers/ocmf-verify.js';

const TOKEN = 'export-token-0123456789';
/** The controller's log lines, as JSON objects. */
const logged: Record<string, unknown>[] = [];
const log = createLogger({ level: 'info', stream: { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) } });
const controllers: Controller[] = [];
const clients: FeedClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.closeAndWait()));
  await Promise.all(controllers.splice(0).map((c) => c.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const txRequest = (id: string) => ({ evse_id: 'DE*EXP*E1', transaction_id: id, identification_status: 'ASSIGNED', identification_type: 'ISO14443', identification_flags: [] });

interface XmlValue {
  '@_transactionId': string;
  '@_context': string;
  publicKey: { '#text': string; '@_encoding': string };
  signedData: { '#text': string; '@_format': string; '@_encoding': string };
}

describe('journal export', () => {
  it('exports real transactions as JSON lines with energy and duration, and as S.A.F.E. transparency XML', async () => {
    const sim = await meterSim();
    const dir = mkdtempSync(join(tmpdir(), 'cc-export-'));
    dirs.push(dir);
    const config = parseControllerConfig({
      meters: [{ name: 'evse1', evse_id: 'DE*EXP*E1', ip_address: '127.0.0.1', port: sim.port, reading_interval_ms: 200, warmup_ms: 0 }],
      feed: { port: 0, token: TOKEN }, state_dir: dir,
    }, 'test', {});
    const controller = await startController({ config, log, shutdownGraceMs: 300 });
    controllers.push(controller);
    const client = new FeedClient(controller.feedUrl, { token: TOKEN });
    clients.push(client);
    await client.next((m) => m.type === 'reading');

    // Two charges on the simulated meter: 50 kW for 30 minutes, then 11 kW for 2 hours (its clock is warped).
    for (const [id, kw, minutes] of [['tx-fast', 50, 30], ['tx-slow', 11, 120]] as const) {
      sim.device.setConditions({ powerKw: kw });
      expect((await client.command({ type: 'start_transaction', request: txRequest(id) })).payload.result.status).toBe('OK');
      sim.device.clock.advance(minutes * 60_000);
      expect((await client.command({ type: 'stop_transaction', transactionId: id })).payload.result.status).toBe('OK');
    }
    await client.command({ type: 'start_transaction', request: txRequest('tx-open') }); // open: not exported

    // The stop line tells a person what was charged, from the signed record.
    const stops = logged.filter((l) => l.msg === 'transaction stop');
    expect(stops.map((l) => [l.transactionId, l.meter, l.status])).toEqual([['tx-fast', 'evse1', 'OK'], ['tx-slow', 'evse1', 'OK']]);
    expect(stops[0]!.energyKWh).toBeCloseTo(25, 1);
    expect(stops[0]!.durationS).toBeGreaterThanOrEqual(1800);
    expect(stops[1]!.energyKWh).toBeCloseTo(22, 1);

    const jsonl = await runCli(['journal', 'export', '--state-dir', dir]); // jsonl is the default
    expect(jsonl.code).toBe(0);
    const lines = jsonl.stdout.trim().split('\n').map((line) => JSON.parse(line) as { transactionId: string; energyKWh: number; durationS: number; ocmf: string });
    expect(lines.map((l) => l.transactionId)).toEqual(['tx-fast', 'tx-slow']);
    expect(lines[0]!.energyKWh).toBeCloseTo(25, 1);
    expect(lines[0]!.durationS).toBeGreaterThanOrEqual(1800);
    expect(lines[0]!.durationS).toBeLessThan(1810);
    expect(lines[1]!.energyKWh).toBeCloseTo(22, 1);
    expect(lines[1]!.durationS).toBeGreaterThanOrEqual(7200);
    // The figures are the signed record's own.
    for (const line of lines) expect(summarizeOcmf(line.ocmf)).toMatchObject({ energyKWh: line.energyKWh, durationS: line.durationS, register: '1-0:1.8.0', final: true });

    const xml = await runCli(['journal', 'export', '--format', 'safe-xml', '--state-dir', dir]);
    expect(xml.code).toBe(0);
    expect(xml.stdout.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<values>\n')).toBe(true);
    const parsed = new XMLParser({ ignoreAttributes: false, parseTagValue: false, parseAttributeValue: false, trimValues: false, isArray: (name) => name === 'value' })
      .parse(xml.stdout) as { values: { value: XmlValue[] } };
    const values = parsed.values.value;
    expect(values).toHaveLength(2);
    const rows = controller.journal.transactions({ meter: 'evse1', states: ['closed'] });
    values.forEach((value, i) => {
      expect(value['@_transactionId']).toBe(String(i + 1)); // an integer: the software's dataset number
      expect(value['@_context']).toBe('Transaction.End');
      expect(value.publicKey).toEqual({ '#text': sim.device.keys.publicKeyOcmf, '@_encoding': 'hex' });
      expect(value.signedData['@_format']).toBe('OCMF');
      expect(value.signedData['@_encoding']).toBe('plain');
      // Exactly the stored record, no whitespace around it, and its signature verifies with the key beside it.
      expect(value.signedData['#text']).toBe(rows[i]!.ocmf);
      expect(verifyOcmf(value.signedData['#text'], value.publicKey['#text'])).toBe(true);
    });
    // The key element comes before the record, as the software's XSD orders them.
    expect(xml.stdout.indexOf('<publicKey')).toBeLessThan(xml.stdout.indexOf('<signedData'));

    const onlyOther = await runCli(['journal', 'export', '--format', 'safe-xml', '--state-dir', dir, '--meter', 'nope']);
    expect(onlyOther).toMatchObject({ code: 0, stdout: '<?xml version="1.0" encoding="UTF-8"?>\n<values>\n</values>\n', stderr: expect.stringContaining('no closed transaction') });
    expect(await runCli(['journal', 'export', '--format', 'csv', '--state-dir', dir])).toMatchObject({ code: 2, stderr: expect.stringContaining('--format must be one of jsonl, safe-xml') });
  });

  it('escapes what XML must escape and leaves out a key that is not hex', () => {
    const doc = safeXml([{ ocmf: 'OCMF|{"ID":"a<b&c>"}|{"SD":"00"}', publicKey: 'not hex' }]);
    expect(doc).toContain('<signedData format="OCMF" encoding="plain">OCMF|{"ID":"a&lt;b&amp;c&gt;"}|{"SD":"00"}</signedData>');
    expect(doc).not.toContain('<publicKey');
    const parsed = new XMLParser({ ignoreAttributes: false, parseTagValue: false }).parse(doc) as { values: { value: { signedData: { '#text': string } } } };
    expect(parsed.values.value.signedData['#text']).toBe('OCMF|{"ID":"a<b&c>"}|{"SD":"00"}');
  });
});
