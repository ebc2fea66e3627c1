/** The project's root folder (the one holding package.json), found from this file in src/ or dist/src/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function projectRoot(from: string = import.meta.dirname): string {
  let dir = from;
  for (let i = 0; i < 8 && !existsSync(join(dir, 'package.json')); i += 1) dir = dirname(dir);
  return dir;
}
