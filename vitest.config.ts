import { defineConfig } from 'vitest/config';

// Tests talk to real databases and real processes; each file gets its own database, so files may run
// in parallel, but the machine has two cores: keep the pool small and the timeouts generous.
export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts', 'test/**/*.spec.ts', 'verify-portal/**/*.spec.ts', 'load-tests/**/*.spec.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
