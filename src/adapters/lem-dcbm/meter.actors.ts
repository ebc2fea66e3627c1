/**
 * The meter statechart's actors, built on a DcbmClient: thin wrappers, one per request, with no retries (the
 * chart draws them). `wallClock` gives the system time written to the meter and stamped on starts. `observe`
 * hears every request's endpoint, outcome and duration (the metrics), without the client knowing of it.
 */
import { fromPromise } from 'xstate';
import { ControllerError, type ErrorKind } from '../../domain/errors.js';
import type { ApiVersion } from '../../domain/firmware.js';
import type { LegalInfo } from '../../../machines/meter/meter.setup.js';
import type { LiveMeasure, StatusInfo, TimeSetting } from '../../../machines/meter/meter.types.js';
import { createTicker, realClock, type TickClock } from '../clock/ticker.js';
import type { DcbmClient } from './dcbm.client.js';

/** The settings body for each time-sync step (reference §3.8); NTP always names two servers. */
export function timeSettingBody(setting: TimeSetting, wallNow: number): Record<string, unknown> {
  switch (setting.kind) {
    case 'utc':
      return { time: { utc: new Date(wallNow).toISOString() } };
    case 'tz':
      return { time: { tz: setting.tz } };
    case 'dst':
      return { time: { dst: setting.dst } };
    case 'ntp': {
      const servers = [0, 1].map((i) => setting.servers[i] ?? { ipAddress: '', port: 123 });
      return { ntp: { servers, syncPeriod: 120, ntpActivated: true } };
    }
  }
}

/** One finished device request: the endpoint (reference §3, without the API version), how it ended, how long it took. */
export interface MeterRequestObservation {
  endpoint: 'status' | 'settings' | 'legal' | 'livemeasure' | 'ocmf';
  method: 'GET' | 'POST' | 'PUT';
  /** `ok`, else the error's kind (domain/errors.ts); `error` for anything that is not a ControllerError. */
  outcome: 'ok' | ErrorKind | 'error';
  seconds: number;
}
export type MeterRequestObserver = (observation: MeterRequestObservation) => void;

export function createMeterActors(client: DcbmClient, options: { tickClock?: TickClock; wallClock?: () => number; observe?: MeterRequestObserver | undefined } = {}) {
  const wallClock = options.wallClock ?? Date.now;
  const { observe } = options;
  const timed = <T>(endpoint: MeterRequestObservation['endpoint'], method: MeterRequestObservation['method'], request: () => Promise<T>): Promise<T> => {
    if (!observe) return request();
    const began = performance.now();
    const seconds = (): number => (performance.now() - began) / 1000;
    return request().then(
      (value) => {
        observe({ endpoint, method, outcome: 'ok', seconds: seconds() });
        return value;
      },
      (error: unknown) => {
        observe({ endpoint, method, outcome: error instanceof ControllerError ? error.kind : 'error', seconds: seconds() });
        throw error;
      },
    );
  };
  // Every request takes the actor's signal: XState aborts it when the state that invoked it is left.
  return {
    readItSetting: fromPromise<number, void>(({ signal }) => timed('settings', 'GET', () => client.getItSetting(signal))),
    writeItSetting: fromPromise<void, { IT: number }>(({ input, signal }) => timed('settings', 'PUT', () => client.putSettings({ ocmfId: { IT: input.IT } }, signal))),
    readStatus: fromPromise<StatusInfo, void>(async ({ signal }) => {
      const { meterId, publicKeyOcmf, firmware, transactionOpen } = await timed('status', 'GET', () => client.getStatus(signal));
      return { meterId, publicKeyOcmf, firmware, transactionOpen };
    }),
    readLegal: fromPromise<LegalInfo, { api: ApiVersion }>(({ input, signal }) => timed('legal', 'GET', () => client.getLegal(input.api, signal))),
    readLive: fromPromise<LiveMeasure, { api: ApiVersion }>(({ input, signal }) => timed('livemeasure', 'GET', () => client.getLiveMeasure(input.api, signal))),
    readOcmf: fromPromise<string, { api: ApiVersion; transactionId: string }>(({ input, signal }) => timed('ocmf', 'GET', () => client.getOcmf(input.api, input.transactionId, signal))),
    writeTimeSetting: fromPromise<void, TimeSetting>(({ input, signal }) => timed('settings', 'PUT', () => client.putSettings(timeSettingBody(input, wallClock()), signal))),
    startOnDevice: fromPromise<{ startedAtMs: number }, { api: ApiVersion; transactionId: string; body: Record<string, unknown> }>(async ({ input, signal }) => {
      await timed('legal', 'POST', () => client.startTransaction(input.api, input.transactionId, input.body, signal));
      return { startedAtMs: wallClock() };
    }),
    stopOnDevice: fromPromise<{ transactionStatus: number }, { api: ApiVersion; transactionId: string }>(({ input, signal }) => timed('legal', 'PUT', () => client.stopTransaction(input.api, input.transactionId, signal))),
    ticker: createTicker(options.tickClock ?? realClock),
  };
}
