/**
 * The meter statechart's actors, built on a DcbmClient: thin wrappers, one per request, with no retries (the
 * chart draws them). `wallClock` gives the system time written to the meter and stamped on starts.
 */
import { fromPromise } from 'xstate';
import type { ApiVersion } from '../../domain/firmware.js';
import type { StatusInfo, TimeSetting } from '../../../machines/meter/meter.types.js';
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

export function createMeterActors(client: DcbmClient, options: { tickClock?: TickClock; wallClock?: () => number } = {}) {
  const wallClock = options.wallClock ?? Date.now;
  return {
    readItSetting: fromPromise<number, void>(() => client.getItSetting()),
    writeItSetting: fromPromise<void, { IT: number }>(({ input }) => client.putSettings({ ocmfId: { IT: input.IT } })),
    readStatus: fromPromise<StatusInfo, void>(async () => {
      const { meterId, publicKeyOcmf, firmware, transactionOpen } = await client.getStatus();
      return { meterId, publicKeyOcmf, firmware, transactionOpen };
    }),
    readLegal: fromPromise<{ transactionId: string; startedAtMs?: number | undefined }, { api: ApiVersion }>(({ input }) => client.getLegal(input.api)),
    readLive: fromPromise(({ input }: { input: { api: ApiVersion } }) => client.getLiveMeasure(input.api)),
    readOcmf: fromPromise<string, { api: ApiVersion; transactionId: string }>(({ input }) => client.getOcmf(input.api, input.transactionId)),
    writeTimeSetting: fromPromise<void, TimeSetting>(({ input }) => client.putSettings(timeSettingBody(input, wallClock()))),
    startOnDevice: fromPromise<{ startedAtMs: number }, { api: ApiVersion; transactionId: string; body: Record<string, unknown> }>(async ({ input }) => {
      await client.startTransaction(input.api, input.transactionId, input.body);
      return { startedAtMs: wallClock() };
    }),
    stopOnDevice: fromPromise<{ transactionStatus: number }, { api: ApiVersion; transactionId: string }>(({ input }) => client.stopTransaction(input.api, input.transactionId)),
    ticker: createTicker(options.tickClock ?? realClock),
  };
}
