import { configDefaults, defineConfig } from 'vitest/config';
import { full, leftOutSuites } from './test/support/profile.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fast local profile leaves out what only CI runs; the summary says so at the end.
    exclude: [...configDefaults.exclude, ...leftOutSuites],
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts', './test/support/secret-scan-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    // vitest's default is one worker per core minus one: a single one here. Most suites
    // also wait on child processes, servers and timeouts, so locally three overlap well
    // (measured on 2 cores: 59 s with two, 48 s with three, for the drift, contract and
    // emulator suites). CI keeps the one worker its timing bounds were set under.
    ...(full ? {} : { maxWorkers: 3 }),
  },
});
