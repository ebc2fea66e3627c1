/**
 * PUT DERCapability, then DERSettings, then DERStatus (reference ieee2030_5-registration §3.13), each only when
 * the DER links it and the site configures it; DERCapability may use the legacy `{der}/dercap` path. A configured
 * resource the DER does not link is skipped with a warning, never silently.
 */
import type { OutboundDocument } from '../../src/domain/sep2-resources.js';
import { below, registrationSetup } from './registration.setup.js';
import type { RegistrationContext } from './registration.types.js';
import { backoff, retryOr } from './retry.js';

function derPut(
  step: string,
  guard: 'canPutCapability' | 'canPutSettings' | 'canPutStatus',
  configured: 'hasSettings' | 'hasStatus' | undefined,
  next: string,
  payload: (context: RegistrationContext) => { href: string; document: OutboundDocument },
) {
  const what = step.replace(/^putDer/, 'DER');
  const skip = { type: 'skip' as const, params: { step, reason: `the DER links no ${what}: it was not sent` } };
  return registrationSetup.createStateConfig({
    initial: 'choosing',
    states: {
      choosing: {
        always: [
          { guard, target: 'request' },
          // DERCapability is always configured (the ratings); settings and status only when given.
          ...(configured ? [{ guard: configured, target: next, actions: skip }] : [{ target: next, actions: skip }]),
          ...(configured ? [{ target: next }] : []),
        ],
      },
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
    capability: derPut('putDerCapability', 'canPutCapability', undefined, '#registration.puttingDer.settings', (c) => ({
      href: c.der?.capabilityLink?.href ?? below(c.derHref, 'dercap'), document: { kind: 'DERCapability', data: c.site.derCapability },
    })),
    settings: derPut('putDerSettings', 'canPutSettings', 'hasSettings', '#registration.puttingDer.status', (c) => ({
      href: c.der!.settingsLink!.href, document: { kind: 'DERSettings', data: c.site.derSettings! },
    })),
    status: derPut('putDerStatus', 'canPutStatus', 'hasStatus', '#registration.puttingConnectionPoint', (c) => ({
      href: c.der!.statusLink!.href, document: { kind: 'DERStatus', data: c.site.derStatus! },
    })),
  },
});
