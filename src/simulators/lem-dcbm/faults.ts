/**
 * Fault injection for the simulator (reference §5.4): per-endpoint response overrides (status, body, delay,
 * dropped connection), plus connection-level faults the server applies (reset, refusal, wrong certificate).
 */
import * as v from 'valibot';

export const ENDPOINTS = ['status', 'livemeasure', 'legal', 'ocmf', 'settings', 'certificate', 'logbook'] as const;
export type EndpointName = (typeof ENDPOINTS)[number];

export const ResponseFaultSchema = v.strictObject({
  endpoint: v.picklist([...ENDPOINTS, '*']),
  method: v.optional(v.picklist(['GET', 'POST', 'PUT'])),
  /** Replace the status code (the device operation is not run). */
  status: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(599))),
  /** Replace the body (with `status`, or alone to keep 200). */
  body: v.optional(v.string()),
  contentType: v.optional(v.string()),
  /** Hold the response this long (to exceed a client timeout). */
  delayMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(600_000))),
  /** `immediately`: reset the connection without answering; `midResponse`: send headers and half a body, then reset. */
  drop: v.optional(v.picklist(['immediately', 'midResponse'])),
  /** How many matching requests it applies to; unlimited when absent. */
  times: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});
export type ResponseFault = v.InferOutput<typeof ResponseFaultSchema>;

interface ActiveFault {
  fault: ResponseFault;
  remaining: number;
}

export class FaultInjector {
  #response: ActiveFault[] = [];
  /** Connections still to be reset on accept. */
  resetConnections = 0;
  /** Serve a certificate other than the meter's own (a client pinning the real one must refuse). */
  wrongCertificate = false;

  addResponseFault(fault: ResponseFault): void {
    this.#response.push({ fault, remaining: fault.times ?? Number.POSITIVE_INFINITY });
  }

  /** The first active fault for this request, counted as used. */
  take(endpoint: EndpointName, method: string): ResponseFault | undefined {
    const index = this.#response.findIndex(({ fault }) =>
      (fault.endpoint === '*' || fault.endpoint === endpoint) && (fault.method === undefined || fault.method === method));
    const active = this.#response[index];
    if (!active) return undefined;
    active.remaining -= 1;
    if (active.remaining <= 0) this.#response.splice(index, 1);
    return active.fault;
  }

  clear(): void {
    this.#response = [];
    this.resetConnections = 0;
    this.wrongCertificate = false;
  }

  describe(): { responseFaults: (ResponseFault & { remaining: number | null })[]; resetConnections: number; wrongCertificate: boolean } {
    return {
      responseFaults: this.#response.map(({ fault, remaining }) => ({ ...fault, remaining: Number.isFinite(remaining) ? remaining : null })),
      resetConnections: this.resetConnections,
      wrongCertificate: this.wrongCertificate,
    };
  }
}
