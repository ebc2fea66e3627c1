/**
 * IEEE 2030.5 / CSIP-AUS registration of one EndDevice (reference ieee2030_5-registration §4.3): discover from
 * DeviceCapability, find the EndDevice by LFDI (in the fleet's index of the EndDeviceList, read once and paged with
 * `l`), create it only if absent, verify the PIN, then DeviceInformation, DER, DERCapability / DERSettings /
 * DERStatus and the ConnectionPoint. Every request retries transient failures (transport, 5xx, 429) in its own
 * drawn `backoff` state, without giving up unless the policy says so; trust and permanent failures end in `failed`
 * with the cause (and the server's reasonCode and message), which registers again on command or after an hour.
 * Configured steps the server offers no link for are skipped with a warning. Pure: requests are actors injected
 * with `.provide()`.
 */
import { derResourcesState } from './registration/der-resources.state.js';
import { retryOr, backoff } from './registration/retry.js';
import { registrationSetup, below } from './registration/registration.setup.js';
import type { RegistrationInput } from './registration/registration.types.js';

export const registrationMachine = registrationSetup.createMachine({
  id: 'registration',
  context: ({ input }: { input: RegistrationInput }) => ({
    site: input.site,
    policy: input.policy,
    csipaus: input.policy.csipaus === '1.2' || input.policy.csipaus === '1.3' ? input.policy.csipaus : undefined,
    timeOffsetSeconds: 0,
    timeHref: undefined,
    pollRateMs: undefined,
    endDeviceList: undefined,
    directoryStale: false,
    relisted: false,
    endDevice: undefined,
    endDeviceHref: undefined,
    der: undefined,
    derHref: undefined,
    derListHref: undefined,
    deviceInformationSupported: undefined,
    attempts: 0,
    retryDelayMs: 0,
    lastError: undefined,
    failure: undefined,
    skipped: [],
  }),
  initial: 'discovering',
  states: {
    discovering: {
      initial: 'request',
      states: {
        request: {
          entry: { type: 'progress', params: { step: 'discover' } },
          invoke: {
            src: 'getDocument',
            input: ({ context }) => ({ kind: 'DeviceCapability' as const, href: context.policy.dcapPath }),
            onDone: [
              { guard: 'hasEndDeviceList', target: '#registration.readingTime', actions: ['resetAttempts', 'noteNamespace', 'assignCapability'] },
              { target: '#registration.failed', actions: { type: 'failWith', params: { code: 'noEndDeviceList', step: 'discover', message: 'DeviceCapability has no EndDeviceListLink' } } },
            ],
            onError: retryOr('discover'),
          },
        },
        backoff,
      },
    },
    readingTime: {
      // Optional: the server's clock corrects changedTime and friends; failures here are not fatal.
      initial: 'choosing',
      states: {
        choosing: { always: [{ guard: 'hasTimeHref', target: 'request' }, { target: '#registration.finding' }] },
        request: {
          invoke: {
            src: 'readTimeOffset',
            input: ({ context }) => ({ href: context.timeHref! }),
            onDone: { target: '#registration.finding', actions: 'assignTimeOffset' },
            onError: { target: '#registration.finding', actions: { type: 'skip', params: { step: 'readTime', reason: "the server's Time could not be read: times sent use the local clock" } } },
          },
        },
      },
    },
    finding: {
      // The list is read even when its link says `all="0"` (CACTUS ALL-05 expects the GET before the POST); the
      // fleet's directory reads it once for every site, so this costs one request per fleet, not per site.
      initial: 'request',
      states: {
        request: {
          entry: { type: 'progress', params: { step: 'find' } },
          invoke: {
            // The fleet reads the EndDeviceList once (paged) into an index by LFDI, and again only when a site's
            // view is stale: the cost per site does not grow with the number of sites.
            src: 'findEndDevice',
            input: ({ context }) => ({ href: context.endDeviceList!.href, lfdi: context.site.lfdi, refresh: context.directoryStale }),
            onDone: [
              { guard: 'found', target: '#registration.readingEndDevice', actions: ['resetAttempts', 'noteNamespace', 'assignFoundEndDevice'] },
              { target: 'notFound', actions: ['resetAttempts', 'noteNamespace'] },
            ],
            onError: retryOr('find'),
          },
        },
        backoff,
        notFound: {
          always: [
            { guard: 'inBand', target: '#registration.creating' },
            { target: '#registration.awaitingOutOfBand' },
          ],
        },
      },
    },
    awaitingOutOfBand: {
      entry: { type: 'progress', params: { step: 'awaitOutOfBand', detail: 'not registered yet; waiting for out-of-band registration' } },
      after: { outOfBandPoll: { target: 'discovering', actions: 'markStale' } },
    },
    creating: {
      initial: 'request',
      states: {
        request: {
          entry: { type: 'progress', params: { step: 'createEndDevice' } },
          invoke: {
            src: 'sendDocument',
            input: ({ context }) => ({
              method: 'POST' as const, href: context.endDeviceList!.href, csipaus: context.csipaus, timeOffsetSeconds: context.timeOffsetSeconds,
              document: { kind: 'EndDevice' as const, data: { lfdi: context.site.lfdi, deviceCategory: context.site.deviceCategory, enabled: true, postRate: context.site.postRate } },
            }),
            onDone: [
              // 201 + Location (created) or 200 + Location (it existed): follow it.
              { guard: 'hasLocation', target: '#registration.readingEndDevice', actions: ['resetAttempts', 'assignLocation'] },
              { guard: 'notYetRelisted', target: '#registration.finding', actions: ['resetAttempts', 'markRelisted'] },
              { target: '#registration.failed', actions: { type: 'failWith', params: { code: 'rejected', step: 'createEndDevice', message: 'the server created the EndDevice but gave no Location, and it is not listed' } } },
            ],
            onError: [
              // 409: it exists (envoy); list once more to find it.
              { guard: { type: 'conflictOnce', params: { status: [409] } }, target: '#registration.finding', actions: ['markRelisted'], reenter: true },
              { guard: { type: 'statusIs', params: { status: [409] } }, target: '#registration.failed', actions: { type: 'fail', params: { code: 'conflict', step: 'createEndDevice' } } },
              ...retryOr('createEndDevice'),
            ],
          },
        },
        backoff,
      },
    },
    readingEndDevice: {
      initial: 'request',
      states: {
        request: {
          entry: { type: 'progress', params: { step: 'readEndDevice' } },
          invoke: {
            src: 'getDocument',
            input: ({ context }) => ({ kind: 'EndDevice' as const, href: context.endDeviceHref! }),
            onDone: { target: '#registration.verifying', actions: ['resetAttempts', 'noteNamespace', 'assignEndDevice'] },
            onError: retryOr('readEndDevice'),
          },
        },
        backoff,
      },
    },
    verifying: {
      initial: 'choosing',
      states: {
        choosing: {
          // No RegistrationLink, or no PIN configured: continue (CSIP-AUS ALL-05); a configured PIN unchecked is said.
          always: [
            { guard: 'checkPin', target: 'request' },
            {
              guard: 'hasPin', target: '#registration.puttingDeviceInformation',
              actions: { type: 'skip', params: { step: 'verifyPin', reason: 'a PIN is configured, but the EndDevice has no RegistrationLink: the PIN was not checked' } },
            },
            { target: '#registration.puttingDeviceInformation' },
          ],
        },
        request: {
          entry: { type: 'progress', params: { step: 'verifyPin' } },
          invoke: {
            src: 'getDocument',
            input: ({ context }) => ({ kind: 'Registration' as const, href: context.endDevice!.registrationLink!.href }),
            onDone: [
              { guard: 'pinMatches', target: '#registration.puttingDeviceInformation', actions: ['resetAttempts', 'noteNamespace'] },
              // A different PIN: not our utility's server. Nothing more is sent to it (ALL-03-REJ).
              { target: '#registration.failed', actions: { type: 'failWith', params: { code: 'pinMismatch', step: 'verifyPin', message: 'the Registration PIN does not match the configured PIN; stopped talking to this server' } } },
            ],
            onError: retryOr('verifyPin'),
          },
        },
        backoff,
      },
    },
    puttingDeviceInformation: {
      initial: 'choosing',
      states: {
        choosing: {
          always: [
            { guard: 'canPutDeviceInformation', target: 'request' },
            // Configured, but the server links no DeviceInformation (envoy, Energy Queensland): reported as unsupported.
            {
              guard: 'hasDeviceInformation', target: '#registration.ensuringDer',
              actions: [
                { type: 'markDeviceInformation', params: { supported: false } },
                { type: 'skip', params: { step: 'putDeviceInformation', reason: 'DeviceInformation is configured, but the EndDevice has no DeviceInformationLink: it was not sent' } },
              ],
            },
            { target: '#registration.ensuringDer' },
          ],
        },
        request: {
          entry: { type: 'progress', params: { step: 'putDeviceInformation' } },
          invoke: {
            src: 'sendDocument',
            input: ({ context }) => ({
              method: 'PUT' as const, href: context.endDevice!.deviceInformationLink?.href ?? below(context.endDeviceHref, 'di'),
              csipaus: context.csipaus, timeOffsetSeconds: context.timeOffsetSeconds,
              document: { kind: 'DeviceInformation' as const, data: context.site.deviceInformation! },
            }),
            onDone: { target: '#registration.ensuringDer', actions: ['resetAttempts', { type: 'markDeviceInformation', params: { supported: true } }] },
            onError: [
              // Not offered by this server (envoy): note it and go on.
              {
                guard: { type: 'statusIs', params: { status: [404, 405] } }, target: '#registration.ensuringDer',
                actions: [
                  { type: 'markDeviceInformation', params: { supported: false } },
                  { type: 'skip', params: { step: 'putDeviceInformation', reason: 'the server does not take DeviceInformation (404/405 on the PUT)' } },
                ],
              },
              ...retryOr('putDeviceInformation'),
            ],
          },
        },
        backoff,
      },
    },
    ensuringDer: {
      initial: 'choosing',
      states: {
        choosing: {
          always: [
            { guard: 'hasDerList', target: 'listing', actions: 'assignDerListHref' },
            {
              target: '#registration.puttingConnectionPoint',
              actions: { type: 'skip', params: { step: 'der', reason: 'the EndDevice has no DERListLink: DERCapability, DERSettings and DERStatus were not sent' } },
            },
          ],
        },
        listing: {
          initial: 'request',
          states: {
            request: {
              entry: { type: 'progress', params: { step: 'listDer' } },
              invoke: {
                src: 'getDocument',
                input: ({ context }) => ({ kind: 'DERList' as const, href: context.derListHref!, query: { s: 0, l: context.policy.pageSize } }),
                onDone: [
                  { guard: 'derListHasDer', target: '#registration.ensuringDer.reading', actions: ['resetAttempts', 'noteNamespace', 'assignFirstDer'] },
                  { guard: 'mayCreateDer', target: '#registration.ensuringDer.creating', actions: 'resetAttempts' },
                  { target: '#registration.failed', actions: { type: 'failWith', params: { code: 'noDer', step: 'listDer', message: 'the DERList is empty and creating a DER is not enabled' } } },
                ],
                onError: retryOr('listDer'),
              },
            },
            backoff,
          },
        },
        creating: {
          initial: 'request',
          states: {
            request: {
              entry: { type: 'progress', params: { step: 'createDer' } },
              invoke: {
                src: 'sendDocument',
                input: ({ context }) => ({ method: 'POST' as const, href: context.derListHref!, csipaus: context.csipaus, timeOffsetSeconds: context.timeOffsetSeconds, document: { kind: 'DER' as const } }),
                onDone: [
                  { guard: 'hasLocation', target: '#registration.ensuringDer.reading', actions: ['resetAttempts', 'assignDerLocation'] },
                  { target: '#registration.failed', actions: { type: 'failWith', params: { code: 'noDer', step: 'createDer', message: 'the server created a DER but gave no Location' } } },
                ],
                onError: [
                  { guard: { type: 'statusIs', params: { status: [404, 405] } }, target: '#registration.failed', actions: { type: 'fail', params: { code: 'noDer', step: 'createDer' } } },
                  ...retryOr('createDer'),
                ],
              },
            },
            backoff,
          },
        },
        reading: {
          initial: 'request',
          states: {
            request: {
              entry: { type: 'progress', params: { step: 'readDer' } },
              invoke: {
                src: 'getDocument',
                input: ({ context }) => ({ kind: 'DER' as const, href: context.derHref! }),
                onDone: { target: '#registration.puttingDer', actions: ['resetAttempts', 'noteNamespace', 'assignDer'] },
                onError: retryOr('readDer'),
              },
            },
            backoff,
          },
        },
      },
    },
    puttingDer: derResourcesState,
    puttingConnectionPoint: {
      initial: 'choosing',
      states: {
        choosing: {
          always: [
            { guard: 'canPutConnectionPoint', target: 'request' },
            {
              guard: 'hasNmi', target: '#registration.registered',
              actions: { type: 'skip', params: { step: 'putConnectionPoint', reason: 'an NMI is configured, but the EndDevice has no csipaus:ConnectionPointLink: the NMI was not sent' } },
            },
            { target: '#registration.registered' },
          ],
        },
        request: {
          entry: { type: 'progress', params: { step: 'putConnectionPoint' } },
          invoke: {
            src: 'sendDocument',
            input: ({ context }) => ({
              method: 'PUT' as const, href: context.endDevice?.connectionPointLink?.href ?? below(context.endDeviceHref, 'cp'), csipaus: context.csipaus,
              timeOffsetSeconds: context.timeOffsetSeconds, document: { kind: 'ConnectionPoint' as const, nmi: context.site.nmi! },
            }),
            onDone: { target: '#registration.registered', actions: 'resetAttempts' },
            onError: [
              // 409: an NMI is already set and locked; fine if it is ours.
              { guard: { type: 'statusIs', params: { status: [409] } }, target: 'checking' },
              { guard: { type: 'statusIs', params: { status: [422] } }, target: '#registration.failed', actions: { type: 'fail', params: { code: 'nmiInvalid', step: 'putConnectionPoint' } } },
              ...retryOr('putConnectionPoint'),
            ],
          },
        },
        backoff,
        checking: {
          invoke: {
            src: 'getDocument',
            input: ({ context }) => ({ kind: 'ConnectionPoint' as const, href: context.endDevice?.connectionPointLink?.href ?? below(context.endDeviceHref, 'cp') }),
            onDone: [
              { guard: 'sameNmi', target: '#registration.registered' },
              { target: '#registration.failed', actions: { type: 'failWith', params: { code: 'nmiLocked', step: 'putConnectionPoint', message: 'the server holds a different NMI for this site and refuses updates' } } },
            ],
            onError: { target: '#registration.failed', actions: { type: 'fail', params: { code: 'nmiLocked', step: 'putConnectionPoint' } } },
          },
        },
      },
    },
    registered: {
      entry: ['emitRegistered', { type: 'progress', params: { step: 'registered' } }],
      on: { REGISTER: { target: 'discovering', actions: 'restart' } },
    },
    failed: {
      // A permanent failure: only a command, a config change (the next start) or this long timer tries again.
      entry: 'emitFailed',
      after: { failedRetry: { guard: 'retriesFailed', target: 'discovering', actions: 'restart' } },
      on: { REGISTER: { target: 'discovering', actions: 'restart' } },
    },
  },
});

export type { RegistrationInput } from './registration/registration.types.js';
