/** Generates the diagram files of every machine in machines/index.ts, and checks checked-in ones are current. */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { machines } from '../../machines/index.js';
import { buildDiagram } from './graph.js';
import { toMermaid, toSvg } from './render.js';

export interface DiagramFiles {
  name: string;
  files: Record<string, string>;
}

export async function generateDiagrams(): Promise<DiagramFiles[]> {
  return Promise.all(Object.entries(machines).map(async ([name, machine]) => {
    const diagram = buildDiagram(name, machine);
    return { name, files: { [`${name}.mmd`]: toMermaid(diagram), [`${name}.svg`]: await toSvg(diagram) } };
  }));
}

export async function writeDiagrams(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const { files } of await generateDiagrams()) {
    for (const [file, content] of Object.entries(files)) {
      await writeFile(join(dir, file), content);
      written.push(join(dir, file));
    }
  }
  return written;
}

/** The files in `dir` that are missing or differ from what the machines generate now. */
export async function staleDiagrams(dir: string): Promise<string[]> {
  const stale: string[] = [];
  for (const { files } of await generateDiagrams()) {
    for (const [file, content] of Object.entries(files)) {
      const current = await readFile(join(dir, file), 'utf8').catch(() => undefined);
      if (current !== content) stale.push(file);
    }
  }
  return stale;
}
