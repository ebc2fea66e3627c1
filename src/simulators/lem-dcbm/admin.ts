/**
 * The simulator's admin API (its own port, loopback by default): fault injection, device conditions, time
 * warps, reboots and the request log, so that a test or a person can drive the meter from outside.
 *
 *   GET    /_sim/state                      summary of device, faults and log
 *   GET    /_sim/requests?since=<seq>       recorded requests        DELETE /_sim/requests   clear them
 *   POST   /_sim/faults                     add a response fault      DELETE /_sim/faults     clear all faults
 *   POST   /_sim/connections/reset          {"count": n}  reset the next n connections
 *   POST   /_sim/connections/refuse         {"ms": n}     refuse connections for n ms
 *   PUT    /_sim/tls/wrong-certificate      {"enabled": bool}
 *   PUT    /_sim/device                     conditions, errors word, power/voltage/temperature overrides
 *   POST   /_sim/time/expire                the time sync expires now
 *   POST   /_sim/time/advance               {"ms": n}     warp the device clock forward
 *   POST   /_sim/reboot                     {"downMs": n} power cycle, refusing connections meanwhile
 */
import http from 'node:http';
import * as v from 'valibot';
import { describeIssues } from '../../domain/validation.js';
import { ResponseFaultSchema } from './faults.js';
import type { MeterSimulator } from './index.js';

const Count = v.strictObject({ count: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000)) });
const Millis = v.strictObject({ ms: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(365 * 24 * 3600_000)) });
const Enabled = v.strictObject({ enabled: v.boolean() });
const Reboot = v.strictObject({ downMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(600_000))) });
const nullableNumber = v.optional(v.nullable(v.number()));
const DeviceChange = v.strictObject({
  linkOk: v.optional(v.boolean()),
  tampering: v.optional(v.boolean()),
  overTemperature: v.optional(v.boolean()),
  reversedVoltage: v.optional(v.boolean()),
  measureFailure: v.optional(v.boolean()),
  errors: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffff))),
  powerKw: nullableNumber,
  voltageV: nullableNumber,
  temperatureH: nullableNumber,
  temperatureL: nullableNumber,
});

class BadInput extends Error {}

function parse<T extends v.GenericSchema>(schema: T, text: string): v.InferOutput<T> {
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch (error) {
    throw new BadInput(`body is not valid JSON: ${(error as Error).message}`);
  }
  const result = v.safeParse(schema, value);
  if (!result.success) throw new BadInput(describeIssues(result.issues));
  return result.output;
}

export function createAdminServer(sim: MeterSimulator): http.Server {
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, value: unknown): void => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const url = new URL(req.url ?? '/', 'http://admin');
      const body = Buffer.concat(chunks).toString('utf8');
      const route = `${req.method} ${url.pathname}`;
      try {
        switch (route) {
          case 'GET /_sim/state': return reply(200, sim.state());
          case 'GET /_sim/requests': return reply(200, sim.requests.entries(Number(url.searchParams.get('since') ?? 0) || 0));
          case 'DELETE /_sim/requests': sim.requests.clear(); return reply(200, { ok: true });
          case 'POST /_sim/faults': sim.faults.addResponseFault(parse(ResponseFaultSchema, body)); return reply(200, sim.faults.describe());
          case 'DELETE /_sim/faults': sim.faults.clear(); return reply(200, sim.faults.describe());
          case 'POST /_sim/connections/reset': sim.faults.resetConnections = parse(Count, body).count; return reply(200, sim.faults.describe());
          case 'POST /_sim/connections/refuse': sim.refuseFor(parse(Millis, body).ms); return reply(200, { ok: true });
          case 'PUT /_sim/tls/wrong-certificate': sim.faults.wrongCertificate = parse(Enabled, body).enabled; return reply(200, sim.faults.describe());
          case 'PUT /_sim/device': sim.device.setConditions(parse(DeviceChange, body)); return reply(200, sim.state());
          case 'POST /_sim/time/expire': sim.device.expireTimeSync(); return reply(200, sim.state());
          case 'POST /_sim/time/advance': sim.device.clock.advance(parse(Millis, body).ms); return reply(200, sim.state());
          case 'POST /_sim/reboot': sim.reboot(parse(Reboot, body).downMs); return reply(200, { ok: true });
          default: return reply(404, { error: 'notFound', message: `no admin route ${route}` });
        }
      } catch (error) {
        if (error instanceof BadInput) return reply(400, { error: 'badRequest', message: error.message });
        return reply(500, { error: 'internal', message: (error as Error).message });
      }
    });
  });
}
