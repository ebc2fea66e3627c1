/**
 * The client side of the DER function set (docs/csip-aus-der-client.md §0, §3): the FunctionSetAssignments, the
 * DERProgramList with DERPrograms, each program's DefaultDERControl, DERControlList and ActiveDERControlList, and
 * the DERControlResponses the client POSTs to a control's `replyTo`.
 *
 * Lists page with `s`/`l` like the EndDeviceList (default page size `defaultLimit`, envoy 1); the DERControlList
 * also honours `a` (changed time ≥ a, as envoy). POST `{edev}/rsps/site_control/rsp` takes a DERControlResponse
 * (or a plain Response): XSD-checked when the schemas are present, `endDeviceLFDI` must be the EndDevice's and
 * `subject` the mRID of one of its controls (cancelled and finished ones included), otherwise 400 as envoy
 * (`manager/response.py`); success is 201 + Location `…/rsp/{n}` and the Response is recorded.
 */
import { parseXml } from '../../adapters/sep2/xml.js';
import { lfdiEquals } from '../../domain/sep2-identity.js';
import { ok, type Reply, type RequestContext } from './context.js';
import {
  defaultDerControlDocument, derControlDocument, derControlListDocument, derProgramDocument, derProgramElement, derProgramListDocument,
  functionSetAssignmentsDocument, functionSetAssignmentsElement, functionSetAssignmentsListDocument,
} from './der-documents.js';
import { encodeMrid, fsaMrid, type Sep2Program } from './der-programs.js';
import { badRequest, notFound } from './errors.js';
import { hexValue, readBody, required, text, timeValue, unsigned } from './inbound.js';
import { page, readPaging } from './paging.js';
import type { Sep2Site } from './store.js';

/** 1 once the site has a DER program (envoy derives FSA ids from its programs), else 0. */
export const fsaCount = (ctx: RequestContext, site: Sep2Site): number => (ctx.programs.programs(site).length > 0 ? 1 : 0);

export function getFunctionSetAssignmentsList(ctx: RequestContext, site: Sep2Site): Reply {
  const paging = readPaging(ctx.query, ctx.options.defaultLimit);
  const programs = ctx.programs.programs(site).length;
  const items = programs > 0 ? [functionSetAssignmentsElement(site.href, fsaMrid(site), programs, ctx.options)] : [];
  return ok(functionSetAssignmentsListDocument(`${site.href}/fsa`, items.length, page(items, paging), ctx.options));
}

/** `{edev}/fsa/1` (served even before the first program, with an empty DERProgramList); other ids → 404. */
export function getFunctionSetAssignments(ctx: RequestContext, site: Sep2Site, fsaId: string): Reply {
  checkFsa(fsaId);
  return ok(functionSetAssignmentsDocument(functionSetAssignmentsElement(site.href, fsaMrid(site), ctx.programs.programs(site).length, ctx.options), ctx.options));
}

function checkFsa(fsaId: string): void {
  if (fsaId !== '1') throw notFound(`FunctionSetAssignments ${fsaId} not found.`);
}

/** The site's programs at `href` (`{edev}/fsa/1/derp`, `{edev}/derp` or the DER's `{der}/derp`), primacy first. */
export function getDerProgramList(ctx: RequestContext, site: Sep2Site, href: string, fsaId?: string): Reply {
  if (fsaId !== undefined) checkFsa(fsaId);
  const paging = readPaging(ctx.query, ctx.options.defaultLimit);
  const programs = ctx.programs.listed(site);
  const items = page(programs, paging).map((program) => programElement(ctx, program));
  return ok(derProgramListDocument(href, programs.length, items, ctx.options));
}

const programElement = (ctx: RequestContext, program: Sep2Program) =>
  derProgramElement(program, ctx.programs.listedControls(program, ctx.nowSeconds).length, ctx.programs.activeControls(program, ctx.nowSeconds).length);

export function findProgram(ctx: RequestContext, site: Sep2Site, derpId: string): Sep2Program {
  const program = ctx.programs.program(site, derpId);
  if (!program) throw notFound(`DERProgram ${derpId} not found.`);
  return program;
}

export const getDerProgram = (ctx: RequestContext, program: Sep2Program): Reply => ok(derProgramDocument(programElement(ctx, program), ctx.options));

/** The mRID of the empty DefaultDERControl a program without one serves (stable per program). */
const emptyDefaultMrid = (program: Sep2Program): string =>
  encodeMrid('defaultControl', (1n << 88n) | (BigInt(program.site.created) << 32n) | BigInt(program.id));

export const getDefaultDerControl = (ctx: RequestContext, program: Sep2Program): Reply =>
  ok(defaultDerControlDocument(program, emptyDefaultMrid(program), ctx.options));

export function getDerControlList(ctx: RequestContext, program: Sep2Program): Reply {
  const paging = readPaging(ctx.query, ctx.options.defaultLimit);
  const now = ctx.nowSeconds;
  const controls = ctx.programs.listedControls(program, now)
    .filter((control) => paging.after === 0 || (control.cancelledAt ?? control.changedAt) >= paging.after);
  return ok(derControlListDocument(`${program.href}/derc`, controls.length, page(controls, paging), now, ctx.options));
}

export function getActiveDerControlList(ctx: RequestContext, program: Sep2Program): Reply {
  const paging = readPaging(ctx.query, ctx.options.defaultLimit);
  const controls = ctx.programs.activeControls(program, ctx.nowSeconds);
  return ok(derControlListDocument(`${program.href}/actderc`, controls.length, page(controls, paging), ctx.nowSeconds, ctx.options));
}

/** One control while it is listed (its end still ahead); 404 once it has dropped out. */
export function getDerControl(ctx: RequestContext, program: Sep2Program, dercId: string): Reply {
  const control = ctx.programs.listedControls(program, ctx.nowSeconds).find((candidate) => String(candidate.id) === dercId);
  if (!control) throw notFound(`DERControl ${dercId} not found.`);
  return ok(derControlDocument(control, ctx.nowSeconds, ctx.options));
}

/** POST `{edev}/rsps/{set}/rsp`: only envoy's `site_control` set exists here (the tariff `price` set is not served). */
export function postResponse(ctx: RequestContext, site: Sep2Site, responseSet: string): Reply {
  if (responseSet !== 'site_control') throw notFound(`ResponseSet '${responseSet}' does not exist`);
  const document = readBody(ctx.body, responseRoot(ctx.body), ctx.inbound);
  const { body } = document;
  const endDeviceLfdi = required(body, 'endDeviceLFDI');
  hexValue(endDeviceLfdi, 'endDeviceLFDI', 20);
  const subject = required(body, 'subject');
  hexValue(subject, 'subject', 16);
  const statusText = text(body, 'status');
  const status = statusText === undefined ? undefined : Number(unsigned(statusText, 'status', 8));
  const createdText = text(body, 'createdDateTime');
  const createdDateTime = createdText === undefined ? undefined : timeValue(createdText, 'createdDateTime');
  if (!lfdiEquals(endDeviceLfdi, site.lfdi)) throw badRequest(`endDeviceLFDI '${endDeviceLfdi}' doesn't match EndDevice with ID ${site.id}.`);
  const control = ctx.programs.findControl(site, subject);
  if (!control) throw badRequest(`subject '${subject}' references a DOE not available on this utility server`);
  const recorded = ctx.programs.recordResponse(site, {
    subject, controlHref: control.href, status, createdDateTime, endDeviceLfdi, receivedAtMs: ctx.options.now(), body: ctx.body,
  });
  return { status: 201, body: '', location: recorded.href };
}

/** envoy takes a DERControlResponse, a PriceResponse or a plain Response there; only the first and last count here. */
function responseRoot(body: string): 'DERControlResponse' | 'Response' {
  try {
    return parseXml(body).root === 'Response' ? 'Response' : 'DERControlResponse';
  } catch {
    return 'DERControlResponse'; // readBody reports the syntax error
  }
}
