/**
 * Serves the statechart inspector: the page (one self-contained HTML file, no CDN; read on the first request,
 * so a controller nobody inspects does not hold it) and the diagrams, generated from machines/ on request, so
 * they always match the running machines: `/diagrams/<name>.svg` (the same drawing as visualizations/),
 * `?fold=<state id>,...` with those compound states folded to one node each, and `/diagrams/<name>.json`, the
 * states and transitions as data (the page's fold list).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { machines, type MachineName } from '../../machines/index.js';
import { allStates, buildDiagram, foldDiagram, type Diagram } from '../diagrams/graph.js';
import { toSvg } from '../diagrams/render.js';
import { projectRoot } from '../project-root.js';

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/** Rendered SVGs kept (by machine and fold set); the oldest goes first beyond this. */
const MAX_RENDERED = 48;
const MAX_FOLDS = 64;

export function createInspectorRoutes(): (req: IncomingMessage, res: ServerResponse) => boolean {
  let page: string | undefined;
  const diagrams = new Map<MachineName, Diagram>();
  const svgs = new Map<string, Promise<string>>();
  const diagramOf = (name: MachineName): Diagram => {
    if (!diagrams.has(name)) diagrams.set(name, buildDiagram(name, machines[name]));
    return diagrams.get(name)!;
  };
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = new URL(req.url ?? '/', 'http://inspector');
    const path = url.pathname;
    if (path === '/' || path === '/inspector') {
      page ??= readFileSync(join(projectRoot(), 'src/inspector/index.html'), 'utf8');
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', ...SECURITY_HEADERS }).end(page);
      return true;
    }
    const match = /^\/diagrams\/([A-Za-z]+)\.(svg|json)$/.exec(path);
    if (!match || !Object.hasOwn(machines, match[1]!)) return false;
    const name = match[1] as MachineName;
    const diagram = diagramOf(name);
    if (match[2] === 'json') {
      const states = allStates(diagram.root).map((s) => ({ id: s.id, key: s.key, type: s.type, initial: s.initial, invokes: s.invokes, children: s.children.map((c) => c.id) }));
      res.writeHead(200, { 'Content-Type': 'application/json', ...SECURITY_HEADERS }).end(JSON.stringify({ name, states, transitions: diagram.transitions }));
      return true;
    }
    // Only compound states of this machine can be folded; anything else in the list is ignored.
    const compound = new Set(allStates(diagram.root).filter((s) => s.children.length && s.id !== diagram.root.id).map((s) => s.id));
    const fold = [...new Set((url.searchParams.get('fold') ?? '').split(',').filter((id) => compound.has(id)))].sort().slice(0, MAX_FOLDS);
    const key = `${name}|${fold.join(',')}`;
    if (!svgs.has(key)) {
      if (svgs.size >= MAX_RENDERED) svgs.delete(svgs.keys().next().value!);
      svgs.set(key, toSvg(foldDiagram(diagram, new Set(fold))));
    }
    svgs.get(key)!.then(
      (svg) => res.writeHead(200, { 'Content-Type': 'image/svg+xml', ...SECURITY_HEADERS }).end(svg),
      (error: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`diagram failed: ${(error as Error).message}\n`),
    );
    return true;
  };
}
