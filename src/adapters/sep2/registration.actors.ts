/**
 * The registration statechart's actors on a Sep2Client: one GET, POST or PUT each, no retries. Outbound
 * documents are encoded here with the server-corrected time (`changedTime`, `updatedTime`, `readingTime`).
 * The DeviceCapability, the clock offset and the EndDevice index come from the fleet's directory, shared by every
 * site (see directory.ts).
 */
import { fromPromise } from 'xstate';
import type { FindInput, FindOutput, GetInput, SendInput, SendOutput } from '../../../machines/registration/registration.types.js';
import type { Sep2Directory } from './directory.js';
import { encodeDocument } from './resources.js';
import type { Sep2Client } from './sep2.client.js';

export interface RegistrationActorOptions {
  wallClock?: (() => number) | undefined;
  directory: Sep2Directory;
}

export function createRegistrationActors(client: Sep2Client, options: RegistrationActorOptions) {
  const nowSeconds = (): number => Math.floor((options.wallClock ?? Date.now)() / 1000);
  const { directory } = options;
  return {
    getDocument: fromPromise<{ doc: unknown; csipaus: '1.2' | '1.3' | undefined }, GetInput>(({ input }) =>
      input.kind === 'DeviceCapability' && input.query === undefined ? directory.capability(input.href) : client.get(input.kind, input.href, input.query)),
    sendDocument: fromPromise<SendOutput, SendInput>(async ({ input }) => {
      const xml = encodeDocument(input.document, input.csipaus, nowSeconds() + input.timeOffsetSeconds);
      const result = input.method === 'POST' ? await client.post(input.href, xml) : await client.put(input.href, xml);
      if (input.document.kind === 'EndDevice' && result.location !== undefined) directory.learn(input.document.data.lfdi, result.location);
      return result;
    }),
    readTimeOffset: fromPromise<number, { href: string }>(({ input }) => directory.timeOffset(input.href, nowSeconds)),
    findEndDevice: fromPromise<FindOutput, FindInput>(({ input }) => directory.find(input.href, input.lfdi, input.refresh)),
  };
}
