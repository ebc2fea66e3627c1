import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // Most integration files wait on sockets and timers (the CACTUS procedures on a time scale), not on the CPU:
    // three files at a time on 2 cores keep the suite under 10 minutes without starving the timing checks.
    maxWorkers: 3,
    reporters: ['default', './test/reporters/summary.ts'],
  },
});
