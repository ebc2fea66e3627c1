/**
 * PUT DERCapability, then DERSettings, then DERStatus (reference ieee2030_5-registration §3.13), each only when
 * the DER links it and the site configures it; DERCapability may use the legacy `{der}/dercap` path.
 */
import type { OutboundDocument } from '../../src/domain/sep2-resources.js';
import { below, registrationSetup } from './registration.setup.js';
import type { RegistrationContext } from './registration.types.js';
import { backoff, retryOr } from './retry.js';

function derPut(
  step: string,
  guard: 'canPutCapability' | 'canPutSettings' | 'canPutStatus',
  next: string,
  payload: (context: RegistrationContext) => { href: string; document: OutboundDocument },
) {
  return registrationSetup.createStateConfig({
    initial: 'choosing',
    states: {
      choosing: { always: [{ guard, target: 'request' }, { target: next }] },
      request: {
        entry: { type: 'progress', params: { step } },
        invoke: {
          src: 'sendDocument',
          input: ({ context }) => ({ method: 'PUT' as const, csipaus: context.csipaus, timeOffsetSeconds: context.timeOffsetSeconds, ...payload(context) }),
          onDone: { target: next, actions: 'resetAttempts' },
          onError: retryOr(step),
        },
      },
      backoff,
    },
  });
}

export const derResourcesState = registrationSetup.createStateConfig({
  initial: 'capability',
  states: {
    capability: derPut('putDerCapability', 'canPutCapability', '#registration.puttingDer.settings', (c) => ({
      href: c.der?.capabilityLink?.href ?? below(c.derHref, 'dercap'), document: { kind: 'DERCapability', data: c.site.derCapability },
    })),
    settings: derPut('putDerSettings', 'canPutSettings', '#registration.puttingDer.status', (c) => ({
      href: c.der!.settingsLink!.href, document: { kind: 'DERSettings', data: c.site.derSettings! },
    })),
    status: derPut('putDerStatus', 'canPutStatus', '#registration.puttingConnectionPoint', (c) => ({
      href: c.der!.statusLink!.href, document: { kind: 'DERStatus', data: c.site.derStatus! },
    })),
  },
});
