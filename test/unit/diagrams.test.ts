/** The diagrams in visualizations/ are generated from machines/ and must be current. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { machines } from '../../machines/index.js';
import { staleDiagrams, writeDiagrams } from '../../src/diagrams/generate.js';
import { allStates, buildDiagram } from '../../src/diagrams/graph.js';
import { toMermaid, toSvg } from '../../src/diagrams/render.js';

const VISUALIZATIONS = join(import.meta.dirname, '../../visualizations');

describe('diagrams', () => {
  it('in visualizations/ are current (run "npm run viz" after changing a machine)', async () => {
    expect(await staleDiagrams(VISUALIZATIONS)).toEqual([]);
  });

  it('the staleness check bites on a changed file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'viz-'));
    try {
      await writeDiagrams(dir);
      expect(await staleDiagrams(dir)).toEqual([]);
      writeFileSync(join(dir, 'meter.mmd'), 'stateDiagram-v2\n');
      expect(await staleDiagrams(dir)).toEqual(['meter.mmd']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('show nested and parallel states, guards and delays by name, and always transitions', () => {
    const diagram = buildDiagram('meter', machines.meter);
    const mermaid = toMermaid(diagram);
    expect(mermaid).toContain('state meter_operational {');
    expect(mermaid).toMatch(/\n\s+--\n/); // parallel regions
    expect(mermaid).toContain('meter_operational_transaction_stopping_deciding --> meter_operational_transaction_stopping_finished: always [stopNothingOpen]');
    expect(mermaid).toContain(': after commandRetryDelay [stopPutDone]');
    expect(mermaid).toContain(': after initRetryDelay');
    expect(mermaid).toContain('TEMPERATURE [temperatureAtOrAbove(warning)]');
    expect(mermaid).toContain('done∶ readLive [needToStop]');
    const registration = toMermaid(buildDiagram('registration', machines.registration));
    expect(registration).toContain(': error∶ sendDocument [conflictOnce(409)]');
    expect(registration).toContain('after retryBackoff');
  });

  it('give every state an SVG element the inspector can highlight', async () => {
    const diagram = buildDiagram('meter', machines.meter);
    const svg = await toSvg(diagram);
    for (const state of allStates(diagram.root)) expect(svg).toContain(`id="state:${state.id}"`);
  });
});
