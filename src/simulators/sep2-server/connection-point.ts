/**
 * The CSIP-AUS ConnectionPoint of a site (reference §3.14; envoy api/csip_aus/connection_point.py).
 *
 * PUT `csipaus:ConnectionPoint{connectionPointId}` (envoy also reads CSIP 1.1's `id`; that legacy form is not valid
 * against the CSIP-AUS schemas, so it is exempt from XSD validation and checked structurally only):
 * - `allowNmiUpdates` false and an NMI already set → 409, even for the same NMI (envoy checks this first);
 * - `nmiValidation` on and the NMI not /^[A-Z0-9]{10,11}$/ → 422 (a stand-in for the AEMO allocation rules);
 * - `allowNmiUpdates` true and the same NMI → success without a write;
 * - success → envoy 201 + Location (the cp href), empty body; seed 200 [SIM-CONFIG successStatus.connectionPoint].
 * GET answers `connectionPointId` = the NMI, or "" when none is set.
 *
 * Seed profile: envoy-client's `<ConnectionPoint><connectionPointID/><meterID>NMI123</meterID></ConnectionPoint>`
 * (no namespace, invented element names, §6.1 defect 6) is accepted with warnings; the NMI is the first non-empty of
 * `connectionPointId`, `connectionPointID`, `meterID` (400 when none is).
 */
import type { XmlObject } from '../../adapters/sep2/xml.js';
import { ok, written, type Reply, type RequestContext } from './context.js';
import { connectionPointDocument } from './documents.js';
import { badRequest, conflict, Sep2Refusal } from './errors.js';
import { readBody, text } from './inbound.js';
import { ACCEPTED, type Warn } from './seed-compat.js';
import type { Sep2Site } from './store.js';

const NMI = /^[A-Z0-9]{10,11}$/;
const ID = 'csipaus:connectionPointId';
const LEGACY_ID = 'csipaus:id';

export const getConnectionPoint = (ctx: RequestContext, site: Sep2Site): Reply => ok(connectionPointDocument(site, ctx.options));

export function putConnectionPoint(ctx: RequestContext, site: Sep2Site): Reply {
  const document = readBody(ctx.body, 'csipaus:ConnectionPoint', ctx.inbound, (parsed) => parsed.body[ID] === undefined && parsed.body[LEGACY_ID] !== undefined);
  const { body } = document;
  const nmi = document.legacy ? envoyClientNmi(body, ctx.inbound.warn) : text(body, ID) ?? text(body, LEGACY_ID);
  if (nmi === undefined) throw badRequest('connectionPointId is required.');
  if (nmi.length > 32) throw badRequest('connectionPointId is a String32 (at most 32 characters).');
  const href = `${site.href}/cp`;
  if (!ctx.options.allowNmiUpdates && site.nmi !== '') throw conflict('The NMI of this site is already set and may not be changed.');
  if (ctx.options.nmiValidation && !NMI.test(nmi)) throw new Sep2Refusal(422, `NMI "${nmi}" is not a valid National Metering Identifier.`);
  site.nmi = nmi;
  return written(ctx.options.successStatus.connectionPoint, href);
}

/**
 * The NMI of an envoy-client ConnectionPoint (no namespace): the first non-empty of `connectionPointId`,
 * `connectionPointID`, `meterID`; undefined (→ 400) when all are empty or absent.
 */
function envoyClientNmi(body: XmlObject, warn: Warn): string | undefined {
  const values = (['connectionPointId', 'connectionPointID', 'meterID'] as const).map((name) => ({ name, value: text(body, name) }));
  const chosen = values.find(({ value }) => value !== undefined && value !== '');
  for (const { name, value } of values.slice(1)) {
    if (value === undefined) continue;
    const source = chosen?.name === name ? `; the NMI is taken from ${name}` : '';
    warn(`${name} is not a CSIP-AUS element: CSIP-AUS ConnectionPoint carries the NMI in connectionPointId${source} ${ACCEPTED}`);
  }
  return chosen?.value;
}
