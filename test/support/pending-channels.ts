// Until specs/<provider>.asyncapi.yaml and the emulators' WebSocket sessions are there
// (#24: the channel documents, the emulators' sessions and the channel checks are built
// in parallel and merged together), a channel check cannot pass on the emulators or
// their stand-ins. Suites about other things leave the channels' checks out until then;
// once the documents exist these helpers change nothing, and test/drift-channels.test.ts
// and test/channel-check.test.ts cover the channels in any case.
import { existsSync } from 'node:fs';
import type { DriftReport } from '../../src/contract/drift.js';
import { scenariosFor } from '../../src/contract/scenarios.js';
import type { ProviderName } from '../../src/errors.js';
import { asyncApiPath } from '../../src/specs.js';

/** True while the provider's channel document is not there yet. */
export const channelsPending = (provider: ProviderName): boolean => !existsSync(asyncApiPath(provider));

/** The channels' checks (their operation is the channel's key). */
export const channelKeys: ReadonlySet<string> = new Set(scenariosFor().flatMap((s) => (s.channel ? [s.operation] : [])));

/** The report without the channels' checks while they are pending, its summary recounted; the report itself once they are not. */
export function withoutPendingChannels(report: DriftReport): DriftReport {
  if (!channelsPending(report.provider)) return report;
  const checks = report.checks.filter((c) => !channelKeys.has(c.operation));
  const count = (outcome: string) => checks.filter((c) => c.outcome === outcome).length;
  return { ...report, checks, summary: { checks: checks.length, passed: count('pass'), drift: count('drift'), warnings: count('warning') } };
}
