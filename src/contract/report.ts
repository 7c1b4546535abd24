// Renders scenario results: a table for people, JSON for machines, one model.
import type { ScenarioResult } from './run.js';

export interface Style {
  pass(text: string): string;
  fail(text: string): string;
  dim(text: string): string;
}

export const plain: Style = { pass: (t) => t, fail: (t) => t, dim: (t) => t };

export const ansi: Style = {
  pass: (t) => `\u001b[32m${t}\u001b[39m`,
  fail: (t) => `\u001b[31m${t}\u001b[39m`,
  dim: (t) => `\u001b[2m${t}\u001b[22m`,
};

export function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - text.length));
}

export function renderTable(results: readonly ScenarioResult[], style: Style = plain): string {
  const header = ['PROVIDER', 'OPERATION', 'CASE', 'STATUS', 'RESULT', 'TIME'];
  const rows = results.map((r) => [
    r.scenario.provider,
    r.scenario.operation,
    r.label || '-',
    r.skipped || r.status === r.scenario.status ? String(r.status ?? r.scenario.status) : `${r.scenario.status}->${r.status ?? 'none'}`,
    r.skipped ? 'skip' : `${r.passed ? 'pass' : 'FAIL'} ${r.outcome}`,
    `${r.ms.toFixed(1)} ms`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const lines = [style.dim(header.map((h, i) => pad(h, widths[i]!)).join('  ').trimEnd())];
  rows.forEach((row, index) => {
    const line = row.map((cell, i) => pad(cell, widths[i]!)).join('  ').trimEnd();
    lines.push(results[index]!.passed ? line : style.fail(line));
    if (results[index]!.skipped) lines.push(style.dim(`    - ${results[index]!.skipped}`));
    for (const problem of results[index]!.problems) lines.push(style.fail(`    - ${problem}`));
  });
  return lines.join('\n');
}

export function summarize(results: readonly ScenarioResult[], wallMs: number): string {
  const failed = results.filter((r) => !r.passed).length;
  const skipped = results.filter((r) => r.skipped).length;
  const perProvider = new Map<string, number>();
  for (const r of results) perProvider.set(r.scenario.provider, (perProvider.get(r.scenario.provider) ?? 0) + 1);
  const breakdown = [...perProvider].map(([provider, n]) => `${provider} ${n}`).join(', ');
  return `${results.length - failed - skipped} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''} (${results.length} scenarios: ${breakdown}) in ${(wallMs / 1000).toFixed(1)} s`;
}

export function toJson(results: readonly ScenarioResult[]): object {
  return {
    passed: results.every((r) => r.passed),
    results: results.map((r) => ({
      provider: r.scenario.provider,
      operation: r.scenario.operation,
      case: r.label,
      expectedStatus: r.scenario.status,
      status: r.status ?? null,
      expected: r.scenario.expect,
      outcome: r.outcome,
      passed: r.passed,
      problems: r.problems,
      ...(r.skipped && { skipped: r.skipped }),
      ms: Math.round(r.ms * 10) / 10,
    })),
  };
}
