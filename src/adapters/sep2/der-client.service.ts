/**
 * The DER client of a registered site on a Sep2Client: the chart (machines/der-client.machine.ts) with its actors —
 * the poller (der-poller.ts), the DERControlResponse POST to each control's `replyTo`, and a wall-clock alarm.
 */
import { createActor, fromCallback, fromPromise, type Actor, type ActorOptions, type EventObject } from 'xstate';
import { derClientMachine, type DerClientInput } from '../../../machines/der-client.machine.js';
import type { PendingResponse } from '../../domain/der-client.js';
import { DerPoller } from './der-poller.js';
import type { Limiter } from './limiter.js';
import { encodeDerControlResponse } from './resources.js';
import type { Sep2Client } from './sep2.client.js';

/** setTimeout's limit is about 24.8 days; longer waits are taken in steps (each step evaluates again). */
const MAX_ALARM_MS = 3_600_000;

export interface DerClientOptions {
  client: Sep2Client;
  site: string;
  /** The EndDevice's LFDI (the `endDeviceLFDI` of every response). */
  lfdi: string;
  endDeviceHref: string;
  endDeviceRateS?: number | undefined;
  ratedW: number;
  restored?: DerClientInput['restored'];
  retryMs?: number | undefined;
  /** Wall clock, ms (server-corrected when the registration knows the offset). */
  now?: () => number;
  inspect?: ActorOptions<typeof derClientMachine>['inspect'];
  /** Shared by a fleet's clients: bounds how many polls run at once. */
  limit?: Limiter | undefined;
}

export type DerClientActor = Actor<typeof derClientMachine>;

export function createDerClient(options: DerClientOptions): { actor: DerClientActor; poller: DerPoller } {
  const now = options.now ?? Date.now;
  const poller = new DerPoller(options.client, { endDeviceHref: options.endDeviceHref, endDeviceRateS: options.endDeviceRateS, now });
  const machine = derClientMachine.provide({
    actors: {
      pollServer: fromPromise(() => (options.limit ? options.limit.run(() => poller.poll()) : poller.poll())),
      postResponse: fromPromise<void, PendingResponse>(async ({ input }) => {
        await options.client.post(input.replyTo, encodeDerControlResponse({ lfdi: options.lfdi, status: input.status, subject: input.subject, createdDateTime: Math.floor(now() / 1000) }));
      }),
      alarm: fromCallback<EventObject, { atMs: number | undefined }>(({ input, sendBack }) => {
        if (input.atMs === undefined) return undefined;
        const timer = setTimeout(() => sendBack({ type: 'NOW', nowMs: now() }), Math.min(Math.max(0, input.atMs - now()), MAX_ALARM_MS));
        return () => clearTimeout(timer);
      }),
    },
  });
  const actor = createActor(machine, {
    input: { site: options.site, ratedW: options.ratedW, restored: options.restored, retryMs: options.retryMs, nowMs: now() },
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  return { actor, poller };
}
