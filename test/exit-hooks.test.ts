// Many emulators in one process (a control plane's sandboxes) share one 'exit'
// listener: Node warns past ten listeners of one event, and a user's test run
// should not print MaxListenersExceededWarning because it created sandboxes.
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';

const started: RunningEmulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((e) => e.stop()));
});

describe('exit hooks', () => {
  it('twelve emulators add at most one exit listener, and no warning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const before = process.listenerCount('exit');
      for (let i = 0; i < 12; i++) started.push(await startEmulator(i % 2 ? 'hopx' : 'tensorlake', { handleSignals: false }));
      expect(process.listenerCount('exit') - before).toBeLessThanOrEqual(1);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});
