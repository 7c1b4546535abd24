// The words a drift report prints whatever the server answers: operation and case
// names, headings, outcomes, finding kinds, verdicts, the JSON, JUnit and HTML
// markup, the progress lines. A token found among them cannot be redacted without
// destroying the report (and printing the report would print the token), so drift
// refuses such a token before its first request.
import type { ProviderName } from '../errors.js';
import { containsSecret } from '../core/redact.js';
import { LIFECYCLE_STEPS, type DriftCheck, type DriftReport, type KillFormVerdict } from './drift.js';
import { renderDriftTable, renderJunit, summarizeDrift } from './drift-report.js';
import { renderDriftHtml } from './html-report.js';
import { scenarioLabel } from './scenario.js';
import { scenariosFor } from './scenarios.js';
import type { FindingKind } from './validate.js';

/** Every finding kind a drift check can carry: typed, so that a new kind cannot be left out. */
const FINDING_KINDS = Object.keys({
  'undeclared-status': 1, 'unexpected-body': 1, 'content-type': 1, 'invalid-json': 1, schema: 1, 'missing-field': 1, 'wrong-type': 1,
  'unknown-enum': 1, 'additional-property': 1, 'undeclared-event': 1, 'empty-stream': 1, 'more-findings': 1,
  'upgrade-refused': 1, 'undeclared-message': 1, 'message-order': 1, 'wrong-ending': 1, 'channel-timeout': 1, 'channel-output': 1,
  'missing-route': 1, 'unauthorized-body': 1, 'unexpected-status': 1, contract: 1, lifecycle: 1,
} satisfies Record<FindingKind | 'missing-route' | 'unauthorized-body' | 'unexpected-status' | 'contract' | 'lifecycle', 1>);

const VERDICTS = Object.keys({ accepted: 1, 'accepted-with-drift': 1, 'missing-route': 1, rejected: 1, unknown: 1 } satisfies Record<KillFormVerdict, 1>) as KillFormVerdict[];

/** What drift itself prints on stderr around the report (cli.ts), its variable parts left empty. */
const PROGRESS = ['Checking  at  (mutations allowed)...', '  drift:  ', '  10 checks done', 'error: could not run the drift check: ', 'error: could not write the --json --junit --html file : '];

/** A report of every check drift can make for `provider`, each outcome and finding kind in it, with no server text. */
function skeleton(provider: ProviderName): DriftReport {
  const cases = [
    ...scenariosFor([provider]).map((s) => ({ operation: s.operation, case: scenarioLabel(s), status: s.status as number | null })),
    ...LIFECYCLE_STEPS.map((step) => ({ operation: 'lifecycle', case: step, status: null })),
  ];
  const outcomes = ['pass', 'warning', 'drift'] as const;
  const checks = cases.map((c, i): DriftCheck => {
    const outcome = outcomes[i % outcomes.length]!;
    const kind = FINDING_KINDS[i % FINDING_KINDS.length]!;
    return {
      id: `${provider}.${c.operation}.${c.status}.${c.case.replace(/\s+/g, '-')}`,
      operation: c.operation,
      case: c.case,
      expectedStatus: c.status,
      status: c.status,
      outcome,
      findings: outcome === 'pass' ? [] : [{ severity: outcome === 'drift' ? 'breaking' : 'warning', kind, message: '' }],
      durationMs: 1,
      ...(outcome !== 'pass' && { request: { method: 'GET', url: '', headers: {} }, response: { status: 200, contentType: null, bodyExcerpt: '' } }),
    };
  });
  const count = (outcome: DriftCheck['outcome']) => checks.filter((c) => c.outcome === outcome).length;
  const verdict = (i: number) => ({ verdict: VERDICTS[i % VERDICTS.length]!, evidence: '' });
  return {
    version: 2,
    tool: 'sandbox-procs',
    toolVersion: '',
    provider,
    baseUrl: '',
    mutations: true,
    startedAt: '',
    durationMs: 0,
    summary: { checks: checks.length, passed: count('pass'), drift: count('drift'), warnings: count('warning') },
    killForms: { body: verdict(0), query: verdict(1), path: verdict(2), post: verdict(3) },
    checks,
  };
}

const vocabularies = new Map<ProviderName, string>();

/** The text of every output drift writes for `provider`, without anything a server said. */
export function reportVocabulary(provider: ProviderName): string {
  let text = vocabularies.get(provider);
  if (text === undefined) {
    const report = skeleton(provider);
    const withoutKillForms = { ...report, killForms: undefined };
    text = [renderDriftTable(report), summarizeDrift(report), summarizeDrift(withoutKillForms), renderJunit(report), JSON.stringify(report, null, 2), renderDriftHtml(report), ...PROGRESS].join('\n');
    vocabularies.set(provider, text);
  }
  return text;
}

/** Whether `token` appears, in any form redaction looks for, among the words a drift report of `provider` prints. */
export function isReportVocabulary(provider: ProviderName, token: string): boolean {
  return containsSecret(reportVocabulary(provider), token);
}
