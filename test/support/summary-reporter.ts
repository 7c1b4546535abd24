// Ends the test output with a plain "N passed, N failed" line that any CI can read,
// and, in a fast local run, what it ran smaller or left out (support/profile.ts).
import type { Reporter, TestModule } from 'vitest/node';
import { reductions } from './profile.js';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else counts.skipped++;
      }
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) counts.failed++;
    }
    process.stdout.write(`\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
    if (reductions.length > 0) {
      process.stdout.write(`\nFAST LOCAL RUN, not the full suite: ${reductions.join('; ')}.\n`);
      process.stdout.write('`npm run test:full` (or CI=true) runs everything at full size, as CI does.\n');
    }
  }
}
