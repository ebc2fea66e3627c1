/**
 * Runs the compiled CLI (dist/src/cli.js, built by `npm test` before vitest) as a child process with its output
 * captured; every child still running after a test is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach } from 'vitest';

export const CLI = join(import.meta.dirname, '../../dist/src/cli.js');
const children = new Set<ChildProcess>();

afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

export function spawnCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = () => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const waitForLog = async (msg: string, count = 1, timeoutMs = 10_000): Promise<Record<string, unknown>[]> => {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
      const found = lines().filter((l) => l.msg === msg);
      if (found.length >= count) return found;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no "${msg}" log line; stdout: ${stdout} stderr: ${stderr}`);
  };
  /** The first stdout line matching `pattern` (plain text or JSON). */
  const line = async (pattern: RegExp, timeoutMs = 10_000): Promise<string> => {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
      const found = stdout.split('\n').find((l) => pattern.test(l));
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout: ${stdout} stderr: ${stderr}`);
  };
  return { child, exited, lines, line, waitForLog, output: () => ({ stdout, stderr }) };
}

/** Runs the CLI to its end and returns its exit code and output. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = spawnCli(args, env);
  const code = await cli.exited;
  return { code, ...cli.output() };
}
