/**
 * Lets a child process run the project's TypeScript sources directly (Node 24 `--experimental-transform-types`):
 * an import of `./x.js` that does not exist resolves to `./x.ts`, as the compiler maps them. Tests only (a real
 * `kill -9` of a child needs a process of its own); the shipped code runs from dist/.
 */
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.js') && (specifier.startsWith('.') || specifier.startsWith('/')) && context.parentURL?.startsWith('file:')) {
    const url = new URL(specifier, context.parentURL);
    if (!existsSync(fileURLToPath(url))) {
      const ts = url.href.replace(/\.js$/, '.ts');
      if (existsSync(fileURLToPath(ts))) return next(ts, context);
    }
  }
  return next(specifier, context);
}

if (!process.env.TS_CHILD_LOADER_REGISTERED) {
  process.env.TS_CHILD_LOADER_REGISTERED = '1';
  register(import.meta.url);
}
