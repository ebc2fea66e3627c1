/**
 * Test model of the 2030.5 registration statechart: the production machine itself (`new TestModel`, stepped
 * purely by xstate/graph) with hand-written generators of what the server does: each pending request answers
 * (with the document variants the guards tell apart) or fails (transport, a schema error, a permanent status, and
 * the statuses a step treats specially); backoff and out-of-band timers expire; REGISTER restarts.
 */
import { TestModel, type TestPath } from 'xstate/graph';
import type { ActorLogic, AnyEventObject, AnyMachineSnapshot } from 'xstate';
import { machines } from '../../machines/index.js';
import type { RegistrationContext, RegistrationInput, SiteRegistration } from '../../machines/registration/registration.types.js';
import { ControllerError } from '../../src/domain/errors.js';
import { backoffDelayMs, jitterDraw } from '../../src/domain/retry.js';
import type { StepView } from './replay.js';

const LFDI = '3E4F45AB31EDFE5B67E343E5E4562E31984E23E5';
const fullSite: SiteRegistration = {
  name: 'charger', lfdi: LFDI, deviceCategory: 0x020000, pin: 111115, nmi: '4103861111',
  deviceInformation: { lfdi: LFDI, functionsImplemented: 0x1000cd, mfDate: 0, mfHwVer: 'A', mfID: 12345, mfModel: 'DC-150', mfSerNum: 'SN0001', primaryPower: 1, secondaryPower: 0, swActTime: 0, swVer: '1.0' },
  derCapability: { modesSupported: 0x00500088, rtgMaxW: 150_000, type: 82, doeModesSupported: 0x0f },
  derSettings: { modesEnabled: 0x00500088, setGradW: 100, setMaxW: 150_000, doeModesEnabled: 0x0f },
  derStatus: { genConnectStatus: 1 },
};
const policy: RegistrationInput['policy'] = {
  dcapPath: '/dcap', pageSize: 1, maxPages: 2, inBandRegistration: true, csipaus: 'auto', createDer: true, legacyPathFallback: false,
  maxAttempts: undefined, retryBaseMs: 1000, retryMaxMs: 8000, retryJitter: 0.5, retryAfterMaxMs: 5000, outOfBandPollMs: 60_000,
};

export const registrationConfigs: Record<string, RegistrationInput> = {
  'in-band, PIN, DeviceInformation, NMI, DER settings/status, retries forever': { site: fullSite, policy },
  'out-of-band, nothing optional, legacy paths, no DER creation, 2 attempts, no timed retry after failure': {
    site: { ...fullSite, pin: undefined, nmi: undefined, deviceInformation: undefined, derSettings: undefined, derStatus: undefined },
    policy: { ...policy, inBandRegistration: false, createDer: false, legacyPathFallback: true, maxAttempts: 2, failedRetryMs: 0 },
  },
  'in-band, everything configured, one attempt per request (a one-shot register)': { site: fullSite, policy: { ...policy, maxAttempts: 1 } },
};

/** The server's Retry-After in the generated 503. */
const RETRY_AFTER_MS = 7000;

/**
 * Backoff by the retry policy: the server's Retry-After (capped by retryAfterMaxMs), else base × 2^(attempt − 1),
 * capped, less a jitter share in [0, jitter]; out-of-band: the server's pollRate; after a failure: 1 h.
 */
export const registrationDelay = (input: RegistrationInput) => (name: string, before: AnyMachineSnapshot | undefined): number | undefined => {
  const c = before?.context as RegistrationContext | undefined;
  const p = input.policy;
  if (name === 'retryBackoff') {
    if (c?.lastError?.status === 503) return Math.min(RETRY_AFTER_MS, p.retryAfterMaxMs ?? 3_600_000);
    const attempts = c?.attempts ?? 1;
    const delay = backoffDelayMs(attempts, { baseMs: p.retryBaseMs, maxMs: p.retryMaxMs, jitter: p.retryJitter ?? 0.5 }, jitterDraw(input.site.lfdi, attempts));
    const full = Math.min(p.retryBaseMs * 2 ** (attempts - 1), p.retryMaxMs);
    if (delay > full || delay < full * (1 - (p.retryJitter ?? 0.5))) throw new Error(`back-off ${delay} ms outside [${full * (1 - (p.retryJitter ?? 0.5))}, ${full}]`);
    return delay;
  }
  if (name === 'outOfBandPoll') return c?.pollRateMs ?? p.outOfBandPollMs;
  if (name === 'failedRetry') return p.failedRetryMs ?? 3_600_000;
  return undefined;
};

const httpError = (status: number) => new ControllerError('http-status', `answered ${status}`, { status });
const generic = [
  { label: 'transport', error: new ControllerError('transport', 'connect ECONNREFUSED', { reason: 'refused' }) },
  { label: 'schema', error: new ControllerError('schema', 'not a DeviceCapability') },
  { label: '400', error: httpError(400) },
  { label: 'untrusted', error: new ControllerError('trust', "the server's certificate is not trusted") },
];
/** Only where discovery starts: a 503 with Retry-After, and a handshake the server keeps cutting off. */
const discoveryFailures = [
  { label: '503 Retry-After', error: Object.assign(httpError(503), { retryAfterMs: RETRY_AFTER_MS }) },
  { label: 'handshake reset', error: new ControllerError('transport', 'closed before secure TLS connection', { reason: 'handshake-reset' }) },
];
const link = (href: string) => ({ href });
const endDevice = (full: boolean) => ({
  href: '/edev/1', lfdi: LFDI, sfdi: '167261211391', enabled: true,
  registrationLink: full ? link('/edev/1/rg') : undefined, deviceInformationLink: full ? link('/edev/1/di') : undefined,
  derListLink: full ? link('/edev/1/der') : undefined, connectionPointLink: full ? link('/edev/1/cp') : undefined,
});
const der = (full: boolean) => ({
  href: '/edev/1/der/1', capabilityLink: full ? link('/edev/1/der/1/dercap') : undefined, settingsLink: full ? link('/edev/1/der/1/derg') : undefined,
  statusLink: full ? link('/edev/1/der/1/ders') : undefined, availabilityLink: undefined,
});
const doc = (d: unknown, csipaus: '1.2' | '1.3' | undefined = '1.3') => ({ doc: d, csipaus });

type Outcome = { label: string; output: unknown } | { label: string; error: unknown };

/** How the pending request of a state may end, by the state that made it. */
function outcomes(state: string, c: RegistrationContext): Outcome[] {
  const nmi = c.site.nmi ?? '';
  switch (state) {
    case 'discovering.request': return [
      { label: 'list, time', output: doc({ endDeviceListLink: { href: '/edev', all: 1 }, timeLink: link('/tm'), pollRate: 30 }) },
      { label: 'empty list', output: doc({ endDeviceListLink: { href: '/edev', all: 0 }, timeLink: undefined, pollRate: undefined }, undefined) },
      { label: 'no list', output: doc({ endDeviceListLink: undefined, timeLink: undefined, pollRate: undefined }) }, ...generic, ...discoveryFailures,
    ];
    case 'readingTime.request': return [{ label: 'offset', output: 2 }, generic[0]!];
    case 'finding.request': return [
      { label: 'found', output: { href: '/edev/1', csipaus: '1.3' } },
      { label: 'not listed', output: { href: undefined, csipaus: undefined } }, ...generic,
    ];
    case 'creating.request': return [
      { label: '201 + Location', output: { status: 201, location: '/edev/1' } }, { label: '200 no Location', output: { status: 200, location: undefined } },
      { label: '409', error: httpError(409) }, ...generic,
    ];
    case 'readingEndDevice.request': return [{ label: 'all links', output: doc(endDevice(true)) }, { label: 'no links', output: doc(endDevice(false)) }, ...generic];
    case 'verifying.request': return [
      { label: 'PIN matches', output: doc({ pin: String(c.site.pin ?? ''), dateTimeRegistered: undefined }) },
      { label: 'other PIN', output: doc({ pin: '999995', dateTimeRegistered: undefined }) }, ...generic,
    ];
    case 'puttingDeviceInformation.request': return [{ label: '204', output: { status: 204, location: undefined } }, { label: '404', error: httpError(404) }, ...generic];
    case 'ensuringDer.listing.request': return [
      { label: 'a DER', output: doc({ all: 1, results: 1, pollRate: undefined, ders: [der(true)] }) },
      { label: 'empty', output: doc({ all: 0, results: 0, pollRate: undefined, ders: [] }) }, ...generic,
    ];
    case 'ensuringDer.creating.request': return [
      { label: '201 + Location', output: { status: 201, location: '/edev/1/der/1' } }, { label: '201 no Location', output: { status: 201, location: undefined } },
      { label: '405', error: httpError(405) }, ...generic,
    ];
    case 'ensuringDer.reading.request': return [{ label: 'all links', output: doc(der(true)) }, { label: 'no links', output: doc(der(false)) }, ...generic];
    case 'puttingDer.capability.request':
    case 'puttingDer.settings.request':
    case 'puttingDer.status.request': return [{ label: '204', output: { status: 204, location: undefined } }, ...generic];
    case 'puttingConnectionPoint.request': return [
      { label: '204', output: { status: 204, location: undefined } }, { label: '409', error: httpError(409) }, { label: '422', error: httpError(422) }, ...generic,
    ];
    case 'puttingConnectionPoint.checking': return [
      { label: 'our NMI', output: doc({ connectionPointId: nmi }) }, { label: 'another NMI', output: doc({ connectionPointId: 'OTHER' }) }, generic[0]!,
    ];
    default: throw new Error(`no outcomes for a request from ${state}`);
  }
}

interface NodeLike { id: string; invoke: { id: string; src: unknown }[]; after: { eventType: string }[] }

export function registrationEvents(s: AnyMachineSnapshot): AnyEventObject[] {
  const c = s.context as RegistrationContext;
  const nodes = (s as unknown as { _nodes: NodeLike[] })._nodes;
  const events: AnyEventObject[] = [];
  for (const node of nodes) {
    for (const inv of node.invoke) {
      for (const o of outcomes(node.id.replace(/^registration\./, ''), c)) {
        events.push('output' in o ? { type: `xstate.done.actor.${inv.id}`, output: o.output, label: o.label } : { type: `xstate.error.actor.${inv.id}`, error: o.error, label: o.label });
      }
    }
    for (const a of node.after) events.push({ type: a.eventType });
  }
  if (s.matches('registered') || s.matches('failed')) events.push({ type: 'REGISTER' });
  return events;
}

/** What guards and requests read, compared between the model and the real actor after each step. */
export function registrationView(s: AnyMachineSnapshot): unknown {
  const c = s.context as RegistrationContext;
  const e = c.endDevice;
  return {
    // Attempts beyond 3 behave alike (only the first two tell a handshake reset apart): the graph stays finite.
    list: c.endDeviceList, time: c.timeHref, stale: c.directoryStale, relisted: c.relisted, attempts: Math.min(c.attempts, 3), csipaus: c.csipaus, edev: c.endDeviceHref,
    links: e && [e.registrationLink, e.deviceInformationLink, e.derListLink, e.connectionPointLink].map((l) => l !== undefined),
    der: c.derHref, derLinks: c.der && [c.der.capabilityLink, c.der.settingsLink, c.der.statusLink].map((l) => l !== undefined),
    derList: c.derListHref, di: c.deviceInformationSupported, failure: c.failure && [c.failure.code, c.failure.step],
  };
}

const key = (s: AnyMachineSnapshot) => JSON.stringify([s.value, registrationView(s)]);
const eventKey = (e: AnyEventObject) => `${e.type}${'label' in e ? `(${String(e.label)})` : ''}`;

export function registrationModel(input: RegistrationInput) {
  return new TestModel(machines.registration as unknown as ActorLogic<AnyMachineSnapshot, AnyEventObject, RegistrationInput>, {
    input,
    // The abstraction keeps the graph finite; this bounds the traversal should a machine change make it grow.
    limit: 100_000,
    events: registrationEvents,
    serializeEvent: eventKey as never,
    serializeState: (state, event, prev) => `${key(state)}|${event ? eventKey(event) : ''}|${prev ? key(prev) : ''}`,
  });
}

export type RegistrationPath = TestPath<AnyMachineSnapshot, AnyEventObject>;

export function registrationSuites(): { config: string; input: RegistrationInput; paths: RegistrationPath[] }[] {
  return Object.entries(registrationConfigs).map(([config, input]) => ({ config, input, paths: registrationModel(input).getShortestPaths() }));
}

function expectThat(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

/** The requests the in-memory server received, by the state that sent them, and the events the real actor emitted. */
export function registrationChecks(input: RegistrationInput): (step: StepView) => void {
  return ({ before, expected, actual, emitted, newCalls }) => {
    const c = expected.context as RegistrationContext;
    for (const call of newCalls) {
      const at = call.id.replace(/^\d+\.registration\./, '');
      const i = call.input as { kind?: string; href?: string; method?: string; document?: { kind: string; data?: { lfdi?: string }; nmi?: string }; query?: { s: number; l: number } };
      const get: Record<string, string> = {
        'discovering.request': 'DeviceCapability', 'readingEndDevice.request': 'EndDevice', 'verifying.request': 'Registration',
        'ensuringDer.listing.request': 'DERList', 'ensuringDer.reading.request': 'DER', 'puttingConnectionPoint.checking': 'ConnectionPoint',
      };
      const send: Record<string, [string, string]> = {
        'creating.request': ['POST', 'EndDevice'], 'puttingDeviceInformation.request': ['PUT', 'DeviceInformation'], 'ensuringDer.creating.request': ['POST', 'DER'],
        'puttingDer.capability.request': ['PUT', 'DERCapability'], 'puttingDer.settings.request': ['PUT', 'DERSettings'], 'puttingDer.status.request': ['PUT', 'DERStatus'],
        'puttingConnectionPoint.request': ['PUT', 'ConnectionPoint'],
      };
      if (call.name === 'getDocument') expectThat(i.kind === get[at], `GET from ${at} asked for ${String(i.kind)}`);
      if (call.name === 'sendDocument') expectThat(i.method === send[at]?.[0] && i.document?.kind === send[at]?.[1], `${String(i.method)} ${String(i.document?.kind)} from ${at}`);
      if (at === 'discovering.request') expectThat(i.href === input.policy.dcapPath, `DeviceCapability from ${String(i.href)}`);
      if (at === 'finding.request') {
        const f = call.input as { href?: string; lfdi?: string; refresh?: boolean };
        expectThat(call.name === 'findEndDevice' && f.lfdi === input.site.lfdi && f.href === c.endDeviceList?.href, `find ${JSON.stringify(f)}`);
        // The shared index is trusted on the first look only; after a 409, a wait or a restart it is read again.
        const sawStale = before !== undefined && (before.matches('awaitingOutOfBand') || before.matches('creating') || before.matches('registered') || before.matches('failed'));
        if (sawStale) expectThat(f.refresh === true, `a find after ${JSON.stringify(before.value)} must refresh the index`);
      }
      if (at === 'creating.request') expectThat(i.document?.data?.lfdi === input.site.lfdi, 'the EndDevice created carries our LFDI');
      if (at === 'puttingConnectionPoint.request') expectThat(i.document?.nmi === input.site.nmi, 'the ConnectionPoint carries our NMI');
    }
    const entered = (state: string) => expected.matches(state) && !before?.matches(state);
    if (entered('registered')) {
      const r = emitted.find((e) => e.type === 'registered') as { endDevice?: string; skipped?: { step: string }[] } | undefined;
      expectThat(r?.endDevice === c.endDeviceHref, `registered must be announced with the EndDevice; emitted ${JSON.stringify(emitted)}`);
      // The list of skipped steps depends on the whole path, which the traversal does not tell apart: the real actor's.
      const real = actual.context as RegistrationContext;
      expectThat(JSON.stringify(r?.skipped) === JSON.stringify(real.skipped), 'registered must carry the skipped steps');
      // A configured NMI or PIN is never dropped without a word (issue 12, defect 7).
      if (input.site.nmi !== undefined && !real.endDevice?.connectionPointLink && !input.policy.legacyPathFallback) {
        expectThat(real.skipped.some((k) => k.step === 'putConnectionPoint'), 'an NMI not sent is reported');
      }
      if (input.site.pin !== undefined && !real.endDevice?.registrationLink) expectThat(real.skipped.some((k) => k.step === 'verifyPin'), 'a PIN not checked is reported');
    }
    for (const e of emitted.filter((x) => x.type === 'skipped')) {
      const reason = (e as { reason?: unknown }).reason;
      expectThat(typeof reason === 'string' && reason.length > 10, 'a skip says why');
    }
    if (entered('failed')) {
      const f = emitted.find((e) => e.type === 'failed') as { failure?: { code: string } } | undefined;
      expectThat(f?.failure?.code === c.failure?.code, `failed must be announced with its code ${c.failure?.code ?? '?'}; emitted ${JSON.stringify(emitted)}`);
    }
    if (expected._nodes.some((n) => n.key === 'backoff') && !before?._nodes.some((n) => n.key === 'backoff')) {
      expectThat(emitted.some((e) => e.type === 'retrying'), 'a retry is announced');
    }
  };
}
