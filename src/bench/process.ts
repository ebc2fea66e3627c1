/** Helpers to run the shipped CLI as a child process in benchmarks. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../project-root.js';
import { CONTROLLER_NODE_FLAGS } from '../runtime-flags.js';

export const CLI = join(projectRoot(), 'dist/src/cli.js');

/** Resolves with the first stdout line matching `pattern`. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((l) => pattern.test(l));
      if (line) {
        child.stdout?.off('data', onData);
        clearTimeout(timer);
        resolve(line);
      }
    };
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms: ${buffered.slice(-2000)}`)), timeoutMs);
    child.stdout?.on('data', onData);
  });
}

export const BENCH_TOKEN = 'bench-token-0123456789abcdef';

export interface RunChild {
  child: ChildProcess;
  pid: number;
  feedUrl: string;
  /** Milliseconds since the epoch at spawn. */
  spawnedAt: number;
  stop(): Promise<void>;
}

/** Starts `charger-controller run` with one meter on the given simulator port; resolves once the feed listens. */
export async function startRunChild(meterPort: number, options: { logLevel?: string; feed?: Record<string, unknown>; meter?: Record<string, unknown>; onStdout?: (chunk: string) => void } = {}): Promise<RunChild> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-run-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({
    meters: [{ name: 'meter', evse_id: 'DE*BEN*E1', ip_address: '127.0.0.1', port: meterPort, warmup_ms: 0, ...options.meter }],
    feed: { port: 0, max_buffered_bytes: 16 * 1024 * 1024, ...options.feed },
    state_dir: dir,
    log: { level: options.logLevel ?? 'warn' },
  }));
  const spawnedAt = Date.now();
  // BENCH_CHILD_NODE_ARGS: extra Node flags for the controller, e.g. "--cpu-prof" to profile it.
  // The controller runs with the flags it ships with (npm start, the systemd unit), then any extra ones.
  const nodeArgs = [...CONTROLLER_NODE_FLAGS, ...(process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'run', '--config', file, '--log-level', options.logLevel ?? 'info'], {
    stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CHARGER_FEED_TOKEN: BENCH_TOKEN },
  });
  // Always drain the child's log: an unread pipe would stall its logger and grow its memory.
  child.stdout?.on('data', (d: Buffer) => options.onStdout?.(d.toString()));
  const line = await waitForLine(child, /feed listening/);
  const feedUrl = (JSON.parse(line) as { feed: string }).feed;
  return {
    child, pid: child.pid!, feedUrl, spawnedAt,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
