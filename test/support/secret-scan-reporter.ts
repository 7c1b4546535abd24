// Scans everything the test run prints or reports (console output of every
// test, every failure message and stack) for a test API key, and fails the run
// when one shows up. Test keys all start with TEST_KEY_PREFIX.
import type { UserConsoleLog } from 'vitest';
import type { Reporter, TestCase } from 'vitest/node';
import { ENGINE_KEY_PREFIX, TEST_KEY_PREFIX } from './secrets.js';

const hasKey = (text: string) => text.includes(TEST_KEY_PREFIX) || text.includes(ENGINE_KEY_PREFIX);

export default class SecretScanReporter implements Reporter {
  private readonly leaks: string[] = [];

  onUserConsoleLog(log: UserConsoleLog): void {
    if (hasKey(log.content)) this.leaks.push(`console output: ${log.content.slice(0, 200)}`);
  }

  onTestCaseResult(testCase: TestCase): void {
    for (const error of testCase.result().errors ?? []) {
      const text = `${error.message ?? ''}\n${error.stack ?? ''}\n${error.diff ?? ''}`;
      if (hasKey(text)) this.leaks.push(`failure of "${testCase.fullName}"`);
    }
  }

  onTestRunEnd(): void {
    if (this.leaks.length === 0) {
      process.stdout.write(`secret scan: no test API key in any test output or failure\n`);
      return;
    }
    process.stdout.write(`secret scan: a test API key leaked in:\n${this.leaks.map((l) => `  - ${l}`).join('\n')}\n`);
    process.exitCode = 1;
  }
}
