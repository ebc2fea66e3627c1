/**
 * HTTP client for one LEM DCBM 400/600: one method per endpoint (reference §3), no retries and no decisions (the
 * statechart owns both). Every answer is checked for its status and parsed with a valibot schema; failures are
 * ControllerErrors of the four kinds. Query parameters are URL-encoded (the reference does not, §6.2 item 7).
 * A transport failure says what happened and which config key to check (meterTransportError): a refused
 * connection is not called a timeout, plain HTTP to a meter in HTTPS mode points at `meter_tls_certificate`, and a
 * pin mismatch names both fingerprints.
 */
import ky, { isHTTPError, isTimeoutError, type KyInstance } from 'ky';
import { networkInterfaces } from 'node:os';
import * as v from 'valibot';
import { STATUS_BITS } from '../../domain/dcbm-status.js';
import { ControllerError, errorMessage, type TransportReason } from '../../domain/errors.js';
import type { ApiVersion } from '../../domain/firmware.js';
import { splitOcmf } from '../../domain/ocmf.js';
import type { LiveMeasure } from '../../domain/powermeter.js';
import { describeIssues } from '../../domain/validation.js';
import { classifyTransport, rootCause } from '../http/errors.js';
import { createMeterFetch, pinCertificate, PinMismatchError, type PinnedCertificate } from '../http/pinned-tls.js';
import {
  CertificateSchema, LegalSchema, LiveMeasureSchema, OcmfPayloadSchema, OcmfSignatureSchema, SettingsResultSchema,
  SettingsSchema, StartResponseSchema, StatusSchema, StopResponseSchema,
} from './dcbm.schemas.js';

export interface DcbmClientOptions {
  host: string;
  port: number;
  /** The meter's PEM; non-empty selects HTTPS with this certificate pinned. */
  certificatePem?: string | undefined;
  timeoutMs: number;
  /** Bind requests to this network interface's IPv4 address (EVerest `interface`). */
  interfaceName?: string | undefined;
  /** The meter's name in the config, used in error messages ("meter_tls_certificate of meter "left""). */
  name?: string | undefined;
}

export interface DcbmStatus {
  meterId: string;
  publicKeyOcmf: string;
  firmware: string;
  transactionOpen: boolean;
  statusValue: number | undefined;
}

const MAX_BODY_EXCERPT = 200;
const excerpt = (text: string): string => (text.length > MAX_BODY_EXCERPT ? `${text.slice(0, MAX_BODY_EXCERPT)}…` : text);

function interfaceAddress(name: string): string {
  const address = networkInterfaces()[name]?.find((a) => a.family === 'IPv4' && !a.internal) ?? networkInterfaces()[name]?.find((a) => a.family === 'IPv4');
  if (!address) throw new ControllerError('transport', `network interface "${name}" has no IPv4 address (missing or down)`);
  return address.address;
}

/**
 * A failed exchange with the meter as a transport ControllerError whose message names the cause and what to check
 * (reference §2.2 for the TLS mode). `pinned` says whether the client spoke HTTPS (meter_tls_certificate set).
 */
export function meterTransportError(error: unknown, what: string, meter: { host: string; port: number; name?: string | undefined; pinned: boolean; timeoutMs: number }): ControllerError {
  const at = `${meter.host.includes(':') ? `[${meter.host}]` : meter.host}:${meter.port}`;
  const of = meter.name !== undefined ? ` of meter "${meter.name}"` : '';
  // rootCause drops Node's advice to use the system CA store: a pinned meter's only anchor is meter_tls_certificate.
  const cause = rootCause(error);
  const fail = (reason: TransportReason, message: string): ControllerError => new ControllerError('transport', `${what}: ${message}`, { cause: error, reason });
  const mismatch = findCause(error, (e): e is PinMismatchError => e instanceof PinMismatchError);
  if (mismatch) {
    return fail('other', `the meter at ${at} presented a certificate other than meter_tls_certificate${of} (presented SHA-256 ${mismatch.presented ?? 'unknown'}, pinned ${mismatch.pinned}); `
      + 'if the meter was replaced or its certificate renewed, read the new one (GET /v1/certificate) and pin it; otherwise something else answers at this address');
  }
  const httpsHint = `the meter may be in HTTPS mode (http.tls_on): set meter_tls_certificate${of} to the meter's certificate`;
  const httpHint = `the meter may be in plain HTTP mode (http.tls_on off): clear meter_tls_certificate${of}, or switch the meter's TLS on`;
  switch (classifyTransport(error)) {
    case 'refused':
      return fail('refused', `connection refused by ${at}: nothing listens there (the meter is off or restarting, or ip_address/port${of} is wrong)`);
    case 'timeout':
      return fail('timeout', `no answer from ${at} within ${meter.timeoutMs} ms (${cause}; command_timeout_ms${of} sets the limit)`);
    case 'server-certificate':
      return fail('other', `the meter's certificate was not accepted (${cause}); check meter_tls_certificate${of}`);
    case 'handshake-reset':
    case 'tls-handshake':
      return fail(meter.pinned ? 'handshake-reset' : 'other', `the TLS handshake with ${at} failed (${cause}); ${meter.pinned ? httpHint : `check port${of}`}`);
    case 'reset':
      // A meter in HTTPS mode drops a plain-HTTP request without an answer: reset, or "socket hang up".
      return fail('reset', meter.pinned ? `the meter at ${at} reset the connection (${cause})` : `the meter at ${at} closed the connection without answering (${cause}); ${httpsHint}`);
    case 'dns':
      return fail('dns', `host ${meter.host} not found (${cause}); check ip_address${of}`);
    case 'unreachable':
      return fail('unreachable', `no route to ${at} (${cause}); check the network${meter.name !== undefined ? ` and interface${of}` : ''}`);
    default: {
      // TLS bytes read as HTTP ("Parse Error: Expected HTTP/") also mean a meter in HTTPS mode.
      const parse = findCause(error, (e): e is Error => typeof (e as { code?: unknown }).code === 'string' && String((e as { code: string }).code).startsWith('HPE_'));
      return fail('other', `failed: ${cause}${parse && !meter.pinned ? `; ${httpsHint}` : ''}`);
    }
  }
}

function findCause<T>(error: unknown, test: (e: unknown) => e is T): T | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth += 1) {
    if (test(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export class DcbmClient {
  readonly baseUrl: string;
  readonly #pinned: PinnedCertificate | undefined;
  readonly #options: DcbmClientOptions;
  /** Aborted by close(): in-flight requests are abandoned when the statechart is gone. */
  readonly #closing = new AbortController();
  #http: KyInstance;

  constructor(options: DcbmClientOptions) {
    this.#options = options;
    if (options.certificatePem && !options.certificatePem.includes('-----BEGIN')) {
      // A path: the config loader reads it (loadControllerConfig with `files`, or resolveConfigFiles).
      throw new Error(`meter_tls_certificate${options.name !== undefined ? ` of meter "${options.name}"` : ''} is the file path "${options.certificatePem.trim()}", not PEM text: load the config with its files (resolveConfigFiles) first`);
    }
    this.#pinned = options.certificatePem ? pinCertificate(options.certificatePem) : undefined;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    this.baseUrl = `${this.#pinned ? 'https' : 'http'}://${host}:${options.port}`;
    this.#http = ky.create({
      baseUrl: this.baseUrl,
      retry: 0,
      timeout: options.timeoutMs,
      throwHttpErrors: false,
      // The reference sends this on every request, GET included (reference §2.1).
      headers: { 'Content-Type': 'application/json' },
      signal: this.#closing.signal,
      fetch: createMeterFetch({
        pinned: this.#pinned,
        localAddress: options.interfaceName ? () => interfaceAddress(options.interfaceName!) : undefined,
      }),
    });
  }

  /** `signal`: the caller's (XState aborts an actor's request when its state is left); close() aborts them all. */
  async #request(method: 'GET' | 'POST' | 'PUT', path: string, expected: number, body?: unknown, signal?: AbortSignal): Promise<string> {
    const what = `${method} ${path}`;
    let response: Response;
    try {
      response = await this.#http(path.replace(/^\//, ''), {
        method,
        // The actor's own signal when it gives one (stopping the chart aborts it; no AbortSignal.any, whose dependents
        // pile up on a long-lived signal), else the client's, which close() aborts.
        signal: signal ?? this.#closing.signal,
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
    } catch (error) {
      if (error instanceof ControllerError) throw error;
      const o = this.#options;
      if (isTimeoutError(error)) {
        throw new ControllerError('transport', `${what} timed out after ${o.timeoutMs} ms (no answer; command_timeout_ms${o.name !== undefined ? ` of meter "${o.name}"` : ''} sets the limit)`, { cause: error, reason: 'timeout' });
      }
      if (isHTTPError(error)) throw new ControllerError('http-status', `${what} failed: ${error.message}`, { cause: error });
      throw meterTransportError(error, what, { host: o.host, port: o.port, name: o.name, pinned: this.#pinned !== undefined, timeoutMs: o.timeoutMs });
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new ControllerError('transport', `${what}: the connection broke while reading the body: ${errorMessage(error)}`, { cause: error });
    }
    if (response.status !== expected) {
      throw new ControllerError('http-status', `${what} answered ${response.status} (expected ${expected}): ${excerpt(text)}`, { status: response.status });
    }
    return text;
  }

  async #json<S extends v.GenericSchema>(schema: S, method: 'GET' | 'POST' | 'PUT', path: string, expected: number, body?: unknown, signal?: AbortSignal): Promise<v.InferOutput<S>> {
    const text = await this.#request(method, path, expected, body, signal);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ControllerError('schema', `${method} ${path} answered a body that is not JSON: ${excerpt(text)}`);
    }
    const result = v.safeParse(schema, value);
    if (!result.success) throw new ControllerError('schema', `${method} ${path} answered an unexpected body: ${describeIssues(result.issues)}`);
    return result.output;
  }

  async getStatus(signal?: AbortSignal): Promise<DcbmStatus> {
    const s = await this.#json(StatusSchema, 'GET', '/v1/status', 200, undefined, signal);
    return { meterId: s.meterId, publicKeyOcmf: s.publicKeyOcmf, firmware: s.version.applicationFirmwareVersion, transactionOpen: s.status.bits.transactionIsOnGoing, statusValue: s.status.value };
  }

  async getLiveMeasure(api: ApiVersion, signal?: AbortSignal): Promise<LiveMeasure> {
    return this.#json(LiveMeasureSchema, 'GET', `/${api}/livemeasure`, 200, undefined, signal);
  }

  /** The current (or else the last) transaction's id (reference §3.4), with its start time and EVSE when the record carries them. */
  async getLegal(api: ApiVersion, signal?: AbortSignal): Promise<{ transactionId: string; startedAtMs?: number | undefined; evseId?: string | undefined }> {
    const legal = await this.#json(LegalSchema, 'GET', `/${api}/legal`, 200, undefined, signal);
    const startedAtMs = Date.parse(legal.meterValue?.timestampStart ?? '');
    return { transactionId: legal.transactionId, ...(Number.isFinite(startedAtMs) ? { startedAtMs } : {}), ...(legal.evseId ? { evseId: legal.evseId } : {}) };
  }

  /** POST /legal: 201 with `running: true`, else a protocol error (reference §3.5). */
  async startTransaction(api: ApiVersion, transactionId: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    const answer = await this.#json(StartResponseSchema, 'POST', `/${api}/legal`, 201, body, signal);
    if (!answer.running) throw new ControllerError('protocol', `Created transaction ${transactionId} has state running = false.`);
  }

  /** PUT /legal?transactionId: 200 with the final record, whose status must not carry bit 2 (reference §3.6). */
  async stopTransaction(api: ApiVersion, transactionId: string, signal?: AbortSignal): Promise<{ transactionStatus: number }> {
    const path = `/${api}/legal?transactionId=${encodeURIComponent(transactionId)}`;
    const record = await this.#json(StopResponseSchema, 'PUT', path, 200, '{"running": false}', signal);
    const status = record.meterValue.transactionStatus;
    if (status & (1 << STATUS_BITS.transactionIsOnGoing)) {
      throw new ControllerError('protocol', `Transaction stop request for transaction ${transactionId} returned device status ${status}.`);
    }
    return { transactionStatus: status };
  }

  /** GET /ocmf?transactionId: the signed record as text, checked to be a well-formed OCMF frame (reference §3.7). */
  async getOcmf(api: ApiVersion, transactionId: string, signal?: AbortSignal): Promise<string> {
    const path = `/${api}/ocmf?transactionId=${encodeURIComponent(transactionId)}`;
    const text = (await this.#request('GET', path, 200, undefined, signal)).trim();
    if (text === '') throw new ControllerError('schema', `GET ${path} returned an empty body`);
    const parts = splitOcmf(text);
    if (!parts) throw new ControllerError('schema', `GET ${path} did not return an OCMF record: ${excerpt(text)}`);
    for (const [section, schema, raw] of [['payload', OcmfPayloadSchema, parts.payloadText], ['signature', OcmfSignatureSchema, parts.signatureText]] as const) {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        throw new ControllerError('schema', `GET ${path}: the OCMF ${section} section is not JSON`);
      }
      const result = v.safeParse(schema, value);
      if (!result.success) throw new ControllerError('schema', `GET ${path}: the OCMF ${section} section is malformed: ${describeIssues(result.issues)}`);
    }
    return text;
  }

  async getItSetting(signal?: AbortSignal): Promise<number> {
    return (await this.#json(SettingsSchema, 'GET', '/v1/settings', 200, undefined, signal)).ocmfId.IT;
  }

  /** PUT /v1/settings: rejections arrive as 200 with `result: 0` (reference §3.8, §6.4). */
  async putSettings(body: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    const answer = await this.#json(SettingsResultSchema, 'PUT', '/v1/settings', 200, body, signal);
    if (answer.result !== 1) throw new ControllerError('protocol', `the meter refused the settings write ${JSON.stringify(body)} (result ${answer.result})`);
  }

  /** The meter's certificate for pinning, with its PEM newlines restored (commissioning, reference §2.2). */
  async getCertificate(): Promise<string> {
    return (await this.#json(CertificateSchema, 'GET', '/v1/certificate', 200)).certificate;
  }

  async close(): Promise<void> {
    this.#closing.abort(new Error('the meter client was closed'));
  }
}
