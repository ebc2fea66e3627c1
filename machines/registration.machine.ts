/**
 * IEEE 2030.5 / CSIP-AUS registration of one EndDevice (reference ieee2030_5-registration §4.3): discover from
 * DeviceCapability, find the EndDevice by LFDI (paging with `l`), create it only if absent, verify the PIN, then
 * DeviceInformation, DER, DERCapability / DERSettings / DERStatus and the ConnectionPoint. Every request retries
 * transient failures (transport, 5xx, 429) in its own drawn `backoff` state; permanent ones end in `failed` with
 * the server's reasonCode and message. Pure: requests are actors injected with `.provide()`.
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
    paging: { start: 0, seen: 0, pages: 0 },
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
            onError: '#registration.finding',
          },
        },
      },
    },
    finding: {
      initial: 'choosing',
      entry: 'resetPaging',
      states: {
        choosing: {
          // An empty list needs no paging (CSIP-AUS ALL-02).
          always: [{ guard: 'listEmpty', target: 'notFound' }, { target: 'request' }],
        },
        request: {
          entry: { type: 'progress', params: { step: 'find' } },
          invoke: {
            src: 'getDocument',
            input: ({ context }) => ({ kind: 'EndDeviceList' as const, href: context.endDeviceList!.href, query: { s: context.paging.start, l: context.policy.pageSize } }),
            onDone: [
              { guard: 'foundInPage', target: '#registration.readingEndDevice', actions: ['resetAttempts', 'noteNamespace', 'assignFoundEndDevice'] },
              { guard: 'morePages', target: 'request', reenter: true, actions: ['resetAttempts', 'nextPage'] },
              { target: 'notFound', actions: 'resetAttempts' },
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
      after: { outOfBandPoll: 'discovering' },
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
          // No RegistrationLink, or no PIN configured: continue (CSIP-AUS ALL-05).
          always: [{ guard: 'checkPin', target: 'request' }, { target: '#registration.puttingDeviceInformation' }],
        },
        request: {
          entry: { type: 'progress', params: { step: 'verifyPin' } },
          invoke: {
            src: 'getDocument',
            input: ({ context }) => ({ kind: 'Registration' as const, href: context.endDevice!.registrationLink!.href }),
            onDone: [
              { guard: 'pinMatches', target: '#registration.puttingDeviceInformation', actions: 'resetAttempts' },
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
            // Configured, but the server links no DeviceInformation (envoy): reported as unsupported.
            { guard: 'hasDeviceInformation', target: '#registration.ensuringDer', actions: { type: 'markDeviceInformation', params: { supported: false } } },
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
              { guard: { type: 'statusIs', params: { status: [404, 405] } }, target: '#registration.ensuringDer', actions: { type: 'markDeviceInformation', params: { supported: false } } },
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
          always: [{ guard: 'hasDerList', target: 'listing', actions: 'assignDerListHref' }, { target: '#registration.puttingConnectionPoint' }],
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
                  { guard: 'derListHasDer', target: '#registration.ensuringDer.reading', actions: ['resetAttempts', 'assignFirstDer'] },
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
                onDone: { target: '#registration.puttingDer', actions: ['resetAttempts', 'assignDer'] },
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
        choosing: { always: [{ guard: 'canPutConnectionPoint', target: 'request' }, { target: '#registration.registered' }] },
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
      entry: 'emitFailed',
      on: { REGISTER: { target: 'discovering', actions: 'restart' } },
    },
  },
});

export type { RegistrationInput } from './registration/registration.types.js';
