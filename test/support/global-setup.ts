// One Prism mock per spec for the whole run; stopped in teardown, which vitest
// runs whether tests pass or fail (and Prism's orphan guard covers a killed run).
import type { TestProject } from 'vitest/node';
import type { ProviderName } from '../../src/errors.js';
import { startPrismTarget } from '../../src/contract/run.js';
import { providers } from '../../src/contract/scenarios.js';

declare module 'vitest' {
  export interface ProvidedContext {
    prismBaseUrls: Partial<Record<ProviderName, string>>;
  }
}

export default async function setup(project: TestProject) {
  const running = await startPrismTarget(providers);
  project.provide('prismBaseUrls', running.target.baseUrls);
  return async () => {
    await running.stop();
  };
}
