/**
 * The resident memory floor of the controller: what node alone and each library the controller loads cost, each
 * measured in its own child process run with the controller's V8 flags (runtime-flags.ts). A child imports the
 * library, waits, collects garbage (--expose-gc), waits again, and its RSS (/proc, as for the controller) minus that
 * of a bare `node <flags>` doing the same with no import is the library's share. The floor is a child that imports
 * exactly the set the configured features load: the shares overlap (Node's built-in undici, which ky's use of the
 * fetch classes and an ES `import` of node:http both pull in, is counted in each), so their sum overstates it.
 *
 * Importing a library does not run its native code paths: a second floor child also uses each library once as
 * the controller does (a WAL SQLite file, an HTTP server with a few requests and a WebSocket, a logger line, the
 * default metrics, an actor), which pages in Node's SQLite and HTTP code and the JIT's first code. The controller's
 * own cost is its RSS above that floor.
 *
 * Which libraries: a short run of the controller (one meter, JSON config, no registration) with a module hook
 * that records every package and `node:` built-in that the controller's own files import; a library's own
 * dependencies (pino's sonic-boom, prom-client's @opentelemetry/api) count in its share.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../project-root.js';
import { CONTROLLER_NODE_FLAGS } from '../runtime-flags.js';
import { startMeterSimulator } from '../simulators/lem-dcbm/index.js';
import { startRunChild, waitForLine } from './process.js';
import { figure, median, rssMb, type Figure } from './stats.js';

export interface LoadedSet {
  /** npm packages the controller's own modules import (package names). */
  packages: string[];
  /** `node:` built-ins the controller's own modules import. */
  builtins: string[];
}

/** A module hook (module.registerHooks, synchronous: it sees `import` and `require` alike) that writes a LoadedSet. */
const traceHook = (appUrl: string, out: string): string => `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const packages = new Set(), builtins = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    const parent = context.parentURL ?? '';
    if (parent.startsWith(${JSON.stringify(appUrl)}) && !parent.includes('/node_modules/')) {
      const size = packages.size + builtins.size;
      if (result.url.startsWith('node:')) builtins.add(result.url);
      else {
        const name = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url)?.[1];
        if (name) packages.add(name);
      }
      if (packages.size + builtins.size !== size) writeFileSync(${JSON.stringify(out)}, JSON.stringify({ packages: [...packages].sort(), builtins: [...builtins].sort() }));
    }
    return result;
  },
});
`;

/** Runs `charger-controller run` (one meter, JSON config, no registration) until it idles; returns what it loaded. */
export async function traceControllerLoads(): Promise<LoadedSet> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-trace-'));
  const hook = join(dir, 'trace-hook.mjs');
  const out = join(dir, 'loaded.json');
  writeFileSync(hook, traceHook(pathToFileURL(`${projectRoot()}/`).href, out));
  const sim = await startMeterSimulator({ port: 0 });
  const saved = process.env.BENCH_CHILD_NODE_ARGS;
  process.env.BENCH_CHILD_NODE_ARGS = `--import ${pathToFileURL(hook).href}`;
  try {
    const controller = await startRunChild(sim.port);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await controller.stop();
    return JSON.parse(readFileSync(out, 'utf8')) as LoadedSet;
  } finally {
    if (saved === undefined) delete process.env.BENCH_CHILD_NODE_ARGS;
    else process.env.BENCH_CHILD_NODE_ARGS = saved;
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * RSS in MB of `node <controller flags>` running `code` (ES module, cwd = project root, so bare names resolve to
 * the project's node_modules), after `settleMs`, a full GC and `settleMs` again.
 */
export async function childRssMb(code: string, settleMs: number): Promise<number> {
  const script = `${code}
const settle = () => new Promise((resolve) => setTimeout(resolve, ${settleMs}));
await settle(); globalThis.gc(); await settle();
process.stdout.write('settled\\n');
setInterval(() => undefined, 1 << 30);
`;
  const child = spawn(process.execPath, [...CONTROLLER_NODE_FLAGS, '--expose-gc', '--input-type=module', '-e', script], {
    cwd: projectRoot(), stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await waitForLine(child, /^settled$/);
    return await rssMb(child.pid!);
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
}

/**
 * Code that uses a library once as the controller does, for the floor "in use" (`DIR` is a scratch folder); in
 * this order (ws attaches to the HTTP server). A loaded library without an entry is only imported.
 */
const EXERCISE: [string, string][] = [
  ['node:sqlite', `{ const { DatabaseSync } = await import('node:sqlite'); const db = new DatabaseSync(DIR + '/journal.sqlite');
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)');
    for (let i = 0; i < 20; i += 1) db.prepare('INSERT INTO t (b) VALUES (?)').run('x'.repeat(200));
    db.prepare('SELECT * FROM t WHERE a > ?').all(3); keep.push(db); }`],
  ['node:http', `{ const http = await import('node:http');
    const server = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)); keep.push(server); globalThis.benchServer = server;
    for (let i = 0; i < 3; i += 1) await new Promise((resolve) => http.get({ host: '127.0.0.1', port: server.address().port, agent: false }, (res) => res.resume().on('end', resolve))); }`],
  ['ws', `if (globalThis.benchServer) { const { WebSocketServer, WebSocket } = await import('ws');
    const wss = new WebSocketServer({ server: globalThis.benchServer, path: '/feed' }); wss.on('connection', (s) => s.on('message', (m) => s.send(m)));
    const ws = new WebSocket('ws://127.0.0.1:' + globalThis.benchServer.address().port + '/feed');
    await new Promise((resolve) => ws.once('open', resolve)); ws.send('{}'); await new Promise((resolve) => ws.once('message', resolve)); keep.push(wss, ws); }`],
  ['ky', `{ const { default: ky } = await import('ky'); keep.push(ky.create({ prefixUrl: 'http://127.0.0.1:1/', timeout: 5000 }));
    keep.push(new Request('http://127.0.0.1:1/v1/status', { method: 'PUT', body: '{}' }), new Response('{}'), new Headers({ accept: 'application/json' })); }`],
  ['pino', `{ const { pino } = await import('pino'); const log = pino({ level: 'info', redact: ['token'] }, pino.destination('/dev/null'));
    log.info({ meter: 'm', token: 'x' }, 'feed listening'); keep.push(log); }`],
  ['prom-client', `{ const p = await import('prom-client'); const register = new p.Registry(); p.collectDefaultMetrics({ register });
    new p.Counter({ name: 'c_total', help: 'c', registers: [register] }).inc(); new p.Histogram({ name: 'h_seconds', help: 'h', registers: [register] }).observe(0.1);
    await register.metrics(); keep.push(register); }`],
  ['xstate', `{ const { createActor, setup } = await import('xstate');
    const actor = createActor(setup({}).createMachine({ initial: 'a', context: { n: 0 }, states: { a: { on: { go: 'b' } }, b: { on: { go: 'a' } } } })).start();
    actor.send({ type: 'go' }); keep.push(actor); }`],
  ['valibot', `{ const v = await import('valibot'); v.parse(v.object({ a: v.number(), b: v.optional(v.string()) }), { a: 1 }); }`],
];

const importAll = (specifiers: string[]): string => specifiers.map((s) => `await import(${JSON.stringify(s)});`).join(' ');

/** Package names of the project's runtime dependencies (package.json). */
function dependencies(): string[] {
  const pkg = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return Object.keys(pkg.dependencies ?? {});
}

export interface LibraryFootprint {
  figures: Figure[];
  /** Median RSS of the child that imports exactly the loaded set (MB). */
  floorMb: number;
  /** Median RSS of the child that also uses each library once (MB). */
  floorInUseMb: number;
}

export async function benchLibraries(options: { runs: number; settleMs: number }): Promise<LibraryFootprint> {
  const loaded = await traceControllerLoads();
  const rows: { id: string; label: string; code: string }[] = [
    ...loaded.packages.map((name) => ({ id: name.replace(/[^a-z0-9]+/gi, '_'), label: name, code: importAll([name]) })),
    ...loaded.builtins.map((name) => ({ id: name.replace(/[^a-z0-9]+/gi, '_'), label: name, code: importAll([name]) })),
  ];
  const setCode = importAll([...loaded.packages, ...loaded.builtins]);
  const scratch = mkdtempSync(join(tmpdir(), 'bench-floor-'));
  const exercised = EXERCISE.filter(([name]) => loaded.packages.includes(name) || loaded.builtins.includes(name));
  const inUseCode = `${setCode}\nconst DIR = ${JSON.stringify(scratch)}; const keep = [];\n${exercised.map(([, code]) => code).join('\n')}`;
  const appCode = importAll(['./dist/src/commands/run.js']);
  const bare: number[] = [];
  const shares: number[][] = rows.map(() => []);
  const floor: number[] = [];
  const inUse: number[] = [];
  const app: number[] = [];
  // Interleaved, so that a change in the machine's state during the bench shifts every figure alike.
  for (let run = 0; run < options.runs; run += 1) {
    const alone = await childRssMb('', options.settleMs);
    bare.push(alone);
    for (const [i, row] of rows.entries()) shares[i]!.push(await childRssMb(row.code, options.settleMs) - alone);
    floor.push(await childRssMb(setCode, options.settleMs));
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch);
    inUse.push(await childRssMb(inUseCode, options.settleMs));
    app.push(await childRssMb(appCode, options.settleMs));
  }
  rmSync(scratch, { recursive: true, force: true });
  const alone = median(bare);
  const sum = alone + shares.reduce((total, s) => total + median(s), 0);
  const flags = CONTROLLER_NODE_FLAGS.join(' ');
  const notLoaded = dependencies().filter((d) => !loaded.packages.includes(d));
  const method = `child node ${flags} --expose-gc: import, ${options.settleMs} ms, gc(), ${options.settleMs} ms, then RSS`;
  const figures = [
    figure('rss_node_alone', 'RSS of node alone (no import)', 'MB', bare, undefined, method),
    ...rows.map((row, i) => figure(`rss_share_${row.id}`, `  share of ${row.label}`, 'MB', shares[i]!, undefined,
      `RSS with import('${row.label}') − node alone; ${method}${row.label === 'node:http' ? '; an ES import of node:http reads its lazy WebSocket getters, which load Node\'s internal undici' : ''}`)),
    figure('rss_floor_sum', 'floor, summed: node alone + the shares above', 'MB', [sum], undefined, 'overstates the floor: the shares overlap (Node\'s internal undici, node:http, node:tls are counted in several)'),
    figure('rss_floor', 'floor, measured: node importing exactly that set', 'MB', floor, undefined,
      `the libraries a one-meter, JSON-config, no-registration controller loads: ${[...loaded.packages, ...loaded.builtins].join(', ')}; not loaded: ${notLoaded.join(', ') || 'none'}`),
    figure('rss_floor_in_use', 'floor, libraries in use: the same set, each used once', 'MB', inUse, undefined,
      `as rss_floor, then used as the controller uses them (${exercised.map(([name]) => name).join(', ')}): WAL SQLite file, HTTP server + 3 requests, a WebSocket, a log line, default metrics, an actor`),
    figure('rss_app_modules', 'controller modules imported, not started', 'MB', app, undefined, `import('./dist/src/commands/run.js'), which the CLI loads for \`run\`; ${method}`),
  ];
  return { figures, floorMb: median(floor), floorInUseMb: median(inUse) };
}
