import { defineConfig } from 'vitest/config';

// Tests talk to real databases and real processes; each file gets its own database, so files may run
// in parallel, but the machine has two cores: keep the pool small. Timeouts guard against hangs, never
// against slowness: a CI machine ran the suite three times slower than a development machine did
// (432 s against 146 s for the PGlite pass), and the longest browser journey (13 s here) ran past
// a 60 s limit there. Speed is measured by `npm run bench`, not here.
export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts', 'test/**/*.spec.ts', 'verify-portal/**/*.spec.ts', 'load-tests/**/*.spec.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
