/**
 * The fault-injection suite: seeded scenarios against the real controller process and the meter simulator
 * (harness.ts). `npm test` runs a few; `npm run soak` runs FAULT_SCENARIOS=1000. FAULT_SEED picks the first seed,
 * so a failing scenario can be run again alone: FAULT_SEED=<seed> FAULT_SCENARIOS=1 npx vitest run test/fault.
 */
import { expect, it } from 'vitest';
import { runScenario, summarize, type ScenarioResult } from './harness.js';

const SCENARIOS = Number(process.env.FAULT_SCENARIOS ?? 4);
const FIRST_SEED = Number(process.env.FAULT_SEED ?? 1);
const CONCURRENCY = Number(process.env.FAULT_CONCURRENCY ?? 1);

it(`keeps every signed record through ${SCENARIOS} seeded fault scenarios (kill -9, reboots, drops, slow device, expired time)`, async () => {
  const results: ScenarioResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < SCENARIOS) {
      const seed = FIRST_SEED + next;
      next += 1;
      results.push(await runScenario(seed));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, SCENARIOS) }, worker));
  process.stdout.write(`\nfault injection (seeds ${FIRST_SEED}..${FIRST_SEED + SCENARIOS - 1})\n${summarize(results)}`);
  const bad = results.filter((r) => r.lost.length || r.duplicated.length || r.startedTwice.length || r.crashes.length || r.inconsistent.length);
  for (const r of bad) process.stdout.write(`seed ${r.seed} [${r.faults.join(', ')}]: ${JSON.stringify({ lost: r.lost, duplicated: r.duplicated, startedTwice: r.startedTwice, crashes: r.crashes, inconsistent: r.inconsistent })}\n`);
  expect(bad.map((r) => r.seed)).toEqual([]);
  // The suite must have exercised something (a single replayed seed may have had every start killed early).
  if (SCENARIOS >= 4) expect(results.reduce((n, r) => n + r.expected, 0)).toBeGreaterThan(0);
}, Math.max(60_000, SCENARIOS * 30_000));
