/**
 * The registration statechart's actors on a Sep2Client: one GET, POST or PUT each, no retries. Outbound
 * documents are encoded here with the server-corrected time (`changedTime`, `updatedTime`, `readingTime`).
 */
import { fromPromise } from 'xstate';
import type { GetInput, SendInput, SendOutput } from '../../../machines/registration/registration.types.js';
import { encodeDocument } from './resources.js';
import type { Sep2Client } from './sep2.client.js';

export function createRegistrationActors(client: Sep2Client, options: { wallClock?: () => number } = {}) {
  const nowSeconds = (): number => Math.floor((options.wallClock ?? Date.now)() / 1000);
  return {
    getDocument: fromPromise<{ doc: unknown; csipaus: '1.2' | '1.3' | undefined }, GetInput>(({ input }) => client.get(input.kind, input.href, input.query)),
    sendDocument: fromPromise<SendOutput, SendInput>(({ input }) => {
      const xml = encodeDocument(input.document, input.csipaus, nowSeconds() + input.timeOffsetSeconds);
      return input.method === 'POST' ? client.post(input.href, xml) : client.put(input.href, xml);
    }),
    readTimeOffset: fromPromise<number, { href: string }>(async ({ input }) => {
      const { doc } = await client.get('Time', input.href);
      return doc.currentTime - nowSeconds();
    }),
  };
}
