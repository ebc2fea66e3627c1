/**
 * The server's URL space (reference §3.4), below the configured `hrefPrefix`:
 *
 *   {dcapPath}                         DeviceCapability              GET
 *   /tm                                Time                          GET
 *   /mup                               MirrorUsagePointList          GET, POST (mirror-resources.ts)
 *   /mup/{id}                          MirrorUsagePoint              GET, POST MirrorMeterReading
 *   /edev                              EndDeviceList                 GET, POST
 *   /edev/{id}                         EndDevice                     GET, DELETE (no PUT: envoy PR #281)
 *   /edev/{id}/rg                      Registration                  GET
 *   /edev/{id}/di                      DeviceInformation             GET, PUT — seed only; envoy has no route (404)
 *   /edev/{id}/fsa                     FunctionSetAssignmentsList    GET (FSA 1 once the site has a DER program)
 *   /edev/{id}/fsa/{fsa}               FunctionSetAssignments        GET (only fsa 1)
 *   /edev/{id}/fsa/{fsa}/derp, /edev/{id}/derp   DERProgramList      GET
 *   /edev/{id}/derp/{derp}             DERProgram                    GET
 *   /edev/{id}/derp/{derp}/dderc       DefaultDERControl             GET (empty when none is set, as envoy)
 *   /edev/{id}/derp/{derp}/derc        DERControlList                GET
 *   /edev/{id}/derp/{derp}/derc/{c}    DERControl                    GET (while listed)
 *   /edev/{id}/derp/{derp}/actderc     ActiveDERControlList          GET
 *   /edev/{id}/rsps/site_control/rsp   DERControlResponse            POST → 201 + Location (envoy's replyTo)
 *   /edev/{id}/sub                     empty SubscriptionList        GET
 *   /edev/{id}/der                     DERList                       GET; POST only in the seed profile (envoy 405)
 *   /edev/{id}/der/{der}               DER                           GET
 *   /edev/{id}/der/{der}/dercap|derg|ders|dera   DER resources       GET, PUT (POST → 405: 2030.5 expects PUT,
 *                                      cactus-tests PR #21; envoy's temporary POST of PR #123 is not simulated)
 *   /edev/{id}/der/{der}/derp          DERProgramList (the site's)   GET
 *   /edev/{id}/cp                      csipaus:ConnectionPoint       GET, PUT (envoy removed POST, PR #281)
 *
 * Out-of-scope function sets (§1.4) are not served: their links appear only with `all="0"` lists that are.
 */
import type { ResolvedSep2Options } from './options.js';

export type DerResourceName = 'dercap' | 'derg' | 'ders' | 'dera';

export type Route =
  | { kind: 'dcap' | 'time' | 'mup' | 'edevList' }
  | { kind: 'mupItem'; mupId: string }
  | { kind: 'edev' | 'rg' | 'di' | 'fsa' | 'sub' | 'derList' | 'cp'; edevId: string }
  | { kind: 'der' | 'derp'; edevId: string; derId: string }
  | { kind: 'derResource'; edevId: string; derId: string; resource: DerResourceName }
  | { kind: 'fsaItem'; edevId: string; fsaId: string }
  /** `{edev}/derp` (fsaId undefined) or `{edev}/fsa/{fsaId}/derp`. */
  | { kind: 'derpList'; edevId: string; fsaId: string | undefined }
  | { kind: 'derProgram' | 'dderc' | 'dercList' | 'actderc'; edevId: string; derpId: string }
  | { kind: 'derControl'; edevId: string; derpId: string; dercId: string }
  | { kind: 'responses'; edevId: string; responseSet: string };

const DER_RESOURCES: readonly string[] = ['dercap', 'derg', 'ders', 'dera'];
const EDEV_CHILDREN: Record<string, 'rg' | 'di' | 'fsa' | 'sub' | 'derList' | 'cp'> = { rg: 'rg', di: 'di', fsa: 'fsa', sub: 'sub', der: 'derList', cp: 'cp' };

/** Matches a request path (no query) to a route, or undefined (→ 404). */
export function matchRoute(pathname: string, options: ResolvedSep2Options): Route | undefined {
  if (pathname === options.dcapHref) return { kind: 'dcap' };
  const prefix = options.hrefPrefix;
  if (prefix !== '' && !pathname.startsWith(`${prefix}/`)) return undefined;
  const segments = pathname.slice(prefix.length + 1).split('/');
  if (segments.some((segment) => segment === '')) return undefined;
  const [first, edevId, child, derId, resource, ...rest] = segments;
  if (first === 'edev' && edevId !== undefined && child !== undefined && Object.hasOwn(DER_FUNCTION_SET, child)) {
    return derFunctionSetRoute(edevId, DER_FUNCTION_SET[child]!, segments.slice(3));
  }
  if (rest.length > 0) return undefined;
  if (segments.length === 1) {
    if (first === 'tm') return { kind: 'time' };
    if (first === 'mup') return { kind: 'mup' };
    if (first === 'edev') return { kind: 'edevList' };
    return undefined;
  }
  if (first === 'mup' && segments.length === 2) return { kind: 'mupItem', mupId: edevId! };
  if (first !== 'edev' || edevId === undefined) return undefined;
  if (child === undefined) return { kind: 'edev', edevId };
  const kind = EDEV_CHILDREN[child];
  if (kind === undefined) return undefined;
  if (derId === undefined) {
    if (kind === 'di' && options.profile === 'envoy') return undefined; // envoy: no DeviceInformation route (§3.11)
    return { kind, edevId };
  }
  if (kind !== 'derList') return undefined;
  if (resource === undefined) return { kind: 'der', edevId, derId };
  if (resource === 'derp') return { kind: 'derp', edevId, derId };
  if (DER_RESOURCES.includes(resource)) return { kind: 'derResource', edevId, derId, resource: resource as DerResourceName };
  return undefined;
}

const DER_FUNCTION_SET: Record<string, 'fsa' | 'derp' | 'rsps'> = { fsa: 'fsa', derp: 'derp', rsps: 'rsps' };
const PROGRAM_CHILDREN: Record<string, 'dderc' | 'dercList' | 'actderc'> = { dderc: 'dderc', derc: 'dercList', actderc: 'actderc' };

/** `{edev}/fsa…`, `{edev}/derp…` and `{edev}/rsps…`; `tail` is what follows the child segment. */
function derFunctionSetRoute(edevId: string, child: 'fsa' | 'derp' | 'rsps', tail: string[]): Route | undefined {
  if (child === 'fsa') {
    const [fsaId, derp, ...rest] = tail;
    if (fsaId === undefined) return { kind: 'fsa', edevId };
    if (derp === undefined) return { kind: 'fsaItem', edevId, fsaId };
    return derp === 'derp' && rest.length === 0 ? { kind: 'derpList', edevId, fsaId } : undefined;
  }
  if (child === 'rsps') {
    const [responseSet, rsp, ...rest] = tail;
    return responseSet !== undefined && rsp === 'rsp' && rest.length === 0 ? { kind: 'responses', edevId, responseSet } : undefined;
  }
  const [derpId, programChild, dercId, ...rest] = tail;
  if (rest.length > 0) return undefined;
  if (derpId === undefined) return { kind: 'derpList', edevId, fsaId: undefined };
  if (programChild === undefined) return { kind: 'derProgram', edevId, derpId };
  if (!Object.hasOwn(PROGRAM_CHILDREN, programChild)) return undefined;
  const kind = PROGRAM_CHILDREN[programChild]!;
  if (dercId === undefined) return { kind, edevId, derpId };
  return kind === 'dercList' ? { kind: 'derControl', edevId, derpId, dercId } : undefined;
}

/** The methods each route answers (405 with `Allow` otherwise). HEAD is served wherever GET is. */
export function allowedMethods(route: Route, options: ResolvedSep2Options): string[] {
  switch (route.kind) {
    case 'edevList': case 'mup': case 'mupItem': return ['GET', 'HEAD', 'POST'];
    case 'edev': return ['GET', 'HEAD', 'DELETE'];
    case 'di': case 'derResource': case 'cp': return ['GET', 'HEAD', 'PUT'];
    case 'derList': return options.profile === 'seed' ? ['GET', 'HEAD', 'POST'] : ['GET', 'HEAD'];
    case 'responses': return ['POST'];
    default: return ['GET', 'HEAD'];
  }
}
