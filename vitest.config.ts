import { configDefaults, defineConfig } from 'vitest/config';
import { full, fullOnlySuites } from './test/support/profile.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fast local profile leaves out what only CI runs; the summary says so at the end.
    exclude: [...configDefaults.exclude, ...(full ? [] : Object.keys(fullOnlySuites))],
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts', './test/support/secret-scan-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    // vitest's default is one worker per core minus one: a single one here. Most suites
    // wait on child processes and servers, so two overlap well locally. CI keeps the one
    // worker its timing bounds (soak, drift bounds) were set under.
    ...(full ? {} : { maxWorkers: 2 }),
  },
});
