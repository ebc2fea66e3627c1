/**
 * Serves the statechart inspector: the page (one self-contained HTML file, no CDN) and the diagram SVGs,
 * generated from machines/ on first request, so they always match the running machines.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { machines, type MachineName } from '../../machines/index.js';
import { buildDiagram } from '../diagrams/graph.js';
import { toSvg } from '../diagrams/render.js';
import { projectRoot } from '../project-root.js';

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export function createInspectorRoutes(): (req: IncomingMessage, res: ServerResponse) => boolean {
  const page = readFileSync(join(projectRoot(), 'src/inspector/index.html'), 'utf8');
  const svgs = new Map<string, Promise<string>>();
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = new URL(req.url ?? '/', 'http://inspector').pathname;
    if (path === '/' || path === '/inspector') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', ...SECURITY_HEADERS }).end(page);
      return true;
    }
    const match = /^\/diagrams\/([A-Za-z]+)\.svg$/.exec(path);
    if (match && Object.hasOwn(machines, match[1]!)) {
      const name = match[1] as MachineName;
      if (!svgs.has(name)) svgs.set(name, toSvg(buildDiagram(name, machines[name])));
      svgs.get(name)!.then(
        (svg) => res.writeHead(200, { 'Content-Type': 'image/svg+xml', ...SECURITY_HEADERS }).end(svg),
        (error: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`diagram failed: ${(error as Error).message}\n`),
      );
      return true;
    }
    return false;
  };
}
