/**
 * Fuzzing the boundaries with fast-check: device JSON (mutated fixtures, over a real socket to the simulator),
 * 2030.5 XML documents, feed command messages (over a real WebSocket), and config files. Every input must end in
 * a value or in the boundary's own clear error: never another exception, a crash, or an unhandled rejection.
 * FUZZ_RUNS sets the number of cases per property (default ≈ 1 000 in all; `npm run soak` raises it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DcbmClient } from '../../src/adapters/lem-dcbm/dcbm.client.js';
import { decodeDocument, DecodeError } from '../../src/adapters/sep2/sep2.schemas.js';
import { XmlError } from '../../src/adapters/sep2/xml.js';
import { ConfigError, parseControllerConfig } from '../../src/config/controller.config.js';
import { ControllerError } from '../../src/domain/errors.js';
import type { Sep2Kind } from '../../src/domain/sep2-resources.js';
import { createLogger } from '../../src/logger.js';
import { startController, type Controller } from '../../src/main.js';
import { startMeterSimulator, type MeterSimulator } from '../../src/simulators/lem-dcbm/index.js';
import { FeedClient, type FeedEnvelope } from '../helpers/feed-client.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 250);
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

/** A JSON value built from a fixture by replacing, dropping or retyping parts of it. */
function mutated(fixture: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(fixture);
  return fc.oneof(
    fc.record({ key: fc.constantFrom(...keys), value: fc.jsonValue() }).map(({ key, value }) => ({ ...fixture, [key]: value })),
    fc.constantFrom(...keys).map((key) => Object.fromEntries(Object.entries(fixture).filter(([k]) => k !== key))),
    fc.jsonValue(),
  );
}

describe('device JSON (mutated fixtures, through the simulator)', () => {
  let sim: MeterSimulator;
  let client: DcbmClient;
  beforeAll(async () => {
    sim = await startMeterSimulator({ port: 0 });
    client = new DcbmClient({ host: '127.0.0.1', port: sim.port, timeoutMs: 2000 });
  });
  afterAll(async () => {
    await client.close();
    await sim.close();
  });

  const live = { voltage: 4.2, current: 4, power: 3, temperatureH: 0, temperatureL: 0, energyImportTotal: 1, energyExportTotal: 2, timestamp: '2023-09-10T21:10:08.068773' };
  const status = { meterId: '1', publicKeyOcmf: 'KEY', status: { bits: { transactionIsOnGoing: false } }, version: { applicationFirmwareVersion: '0.1.2.3' } };

  it.each([
    ['livemeasure', live, () => client.getLiveMeasure('v1')],
    ['status', status, () => client.getStatus()],
    ['settings', { ocmfId: { IT: 3 } }, () => client.getItSetting()],
  ] as const)('%s: a value or a ControllerError', async (endpoint, fixture, call) => {
    await fc.assert(fc.asyncProperty(fc.oneof(mutated(fixture).map((v) => JSON.stringify(v)), fc.string()), async (body) => {
      sim.faults.clear();
      sim.faults.addResponseFault({ endpoint, status: 200, body, times: 1 });
      try {
        await call();
      } catch (error) {
        expect(error).toBeInstanceOf(ControllerError);
        expect((error as Error).message.length).toBeGreaterThan(10);
      }
    }), { numRuns: Math.ceil(RUNS / 3) });
  }, Math.max(120_000, RUNS * 5)); // the soak's 100 000 runs need minutes
});

describe('2030.5 XML', () => {
  const samples = [
    '<EndDevice xmlns="urn:ieee:std:2030.5:ns" href="/edev/1"><lFDI>3E4F45AB31EDFE5B67E343E5E4562E31984E23E5</lFDI><sFDI>167261211391</sFDI><changedTime>1</changedTime><RegistrationLink href="/edev/1/rg"/></EndDevice>',
    '<EndDeviceList xmlns="urn:ieee:std:2030.5:ns" all="1" results="1"><EndDevice href="/edev/1"><sFDI>1</sFDI></EndDevice></EndDeviceList>',
    '<DERCapability xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns"><modesSupported>00500088</modesSupported><rtgMaxW><multiplier>0</multiplier><value>5000</value></rtgMaxW><type>83</type><csipaus:doeModesSupported>0F</csipaus:doeModesSupported></DERCapability>',
  ];
  const kinds: Sep2Kind[] = ['EndDevice', 'EndDeviceList', 'DERCapability', 'Registration', 'DeviceCapability', 'ConnectionPoint', 'Time'];
  const mutation = fc.tuple(fc.constantFrom(...samples), fc.nat(), fc.nat(), fc.string({ maxLength: 40 })).map(([s, a, b, insert]) => {
    const i = a % s.length;
    return s.slice(0, i) + insert + s.slice(Math.min(s.length, i + (b % 20)));
  });

  it('decodes to a document or fails with DecodeError / XmlError', () => {
    fc.assert(fc.property(fc.constantFrom(...kinds), fc.oneof(mutation, fc.string(), fc.string({ unit: 'grapheme', maxLength: 200 })), (kind, xml) => {
      try {
        decodeDocument(kind, xml);
      } catch (error) {
        expect(error instanceof DecodeError || error instanceof XmlError).toBe(true);
      }
    }), { numRuns: RUNS });
  });
});

describe('config files', () => {
  const valid = { meters: [{ ip_address: '127.0.0.1' }], feed: { port: 0 } };
  it('parses or reports problems as a ConfigError', () => {
    fc.assert(fc.property(fc.oneof(mutated(valid), fc.record({ meters: fc.array(mutated({ ip_address: 'x', port: 80, cable_id: 1, meter_dst: '' }), { maxLength: 3 }) }), fc.jsonValue()), (input) => {
      try {
        parseControllerConfig(input, 'fuzz', {});
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).problems.length).toBeGreaterThan(0);
      }
    }), { numRuns: RUNS });
  });
});

describe('feed command messages (over a WebSocket)', () => {
  let sim: MeterSimulator;
  let controller: Controller;
  const stateDir = mkdtempSync(join(tmpdir(), 'cc-fuzz-'));
  beforeAll(async () => {
    sim = await startMeterSimulator({ port: 0 });
    const config = parseControllerConfig({ meters: [{ name: 'm', ip_address: '127.0.0.1', port: sim.port, warmup_ms: 0 }], feed: { port: 0, token: 'fuzz-token-0123456789abcdef' }, state_dir: stateDir }, 'fuzz', {});
    controller = await startController({ config, log: createLogger({ level: 'silent' }) });
  });
  afterAll(async () => {
    await controller.stop();
    await sim.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('answers every message with an error or a result, and the server stays up', async () => {
    const client = new FeedClient(controller.feedUrl, { token: 'fuzz-token-0123456789abcdef' });
    await client.opened;
    await client.next((m) => m.type === 'snapshot');
    const message = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.record({ type: fc.constantFrom('get_snapshot', 'stop_transaction', 'start_transaction', 'register', 'auth', 'x'), requestId: fc.string({ maxLength: 70 }), meter: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), transactionId: fc.option(fc.string({ maxLength: 70 }), { nil: undefined }), request: fc.option(fc.jsonValue(), { nil: undefined }) }).map((v) => JSON.stringify(v)),
    );
    // Answers as they arrive (event-driven, so a soak of tens of thousands of messages is not bound by polling).
    const answers: FeedEnvelope[] = [];
    let wake: (() => void) | undefined;
    client.socket.on('message', (data) => {
      const m = JSON.parse(data.toString()) as FeedEnvelope;
      if (m.type !== 'error' && m.type !== 'command.result') return;
      answers.push(m);
      wake?.();
    });
    const nextAnswer = async (timeoutMs: number): Promise<FeedEnvelope> => {
      if (!answers.length) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          wake = () => { clearTimeout(timer); resolve(); };
        });
        wake = undefined;
      }
      const answer = answers.shift();
      if (!answer) throw new Error(`no answer within ${timeoutMs} ms`);
      return answer;
    };
    await fc.assert(fc.asyncProperty(message, async (text) => {
      client.send(text);
      // Every message gets exactly one answer: an error, or a command result.
      const answer = await nextAnswer(5000);
      expect(answer.type === 'error' ? typeof answer.payload.message : typeof answer.payload.ok).toBe(answer.type === 'error' ? 'string' : 'boolean');
      client.messages.length = 0; // the client's own log is not needed here; keep memory flat over a soak
    }), { numRuns: Math.ceil(RUNS / 2) });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(answers).toEqual([]); // no message was answered twice
    expect(client.closed).toBeUndefined();
    const fresh = new FeedClient(controller.feedUrl);
    expect((await fresh.next(() => true)).payload).toMatchObject({ code: 'unauthorized' });
    await client.closeAndWait();
  }, Math.max(180_000, RUNS * 20));
});
