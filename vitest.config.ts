import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts', './test/support/secret-scan-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 90_000,
  },
});
