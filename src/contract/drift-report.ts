// The drift report for people (a table and a summary) and for CI (JUnit XML).
// The JSON form is the report itself; its schema is schemas/drift-report.schema.json.
import type { DriftCheck, DriftReport } from './drift.js';
import { REDACTED } from '../core/redact.js';
import { pad, plain, type Style } from './report.js';

/** What a rendered report puts around a string: JSON's quotes, XML's and HTML's attribute quotes and tags. */
const DELIMITERS = ['"', "'", '>', '<'];

/**
 * The report with `redact` applied to every string in it (the report's own keys are
 * fixed names, and stay). Run it before rendering: once a string is JSON- or
 * XML-escaped, a secret in it no longer reads as itself.
 *
 * A string that keeps part of a secret (a server's echo cut short) can become the
 * whole secret once rendered: JSON's `\` before a quote, or the quote that closes
 * it, reads as the missing end. Redacting the rendered file then cuts into its
 * syntax, and the file no longer parses; so such a string goes whole, here.
 */
export function redactReport(report: DriftReport, redact: (text: string) => string): DriftReport {
  const clean = (text: string) => redact(text) === text;
  const leaf = (text: string): string => {
    const redacted = redact(text);
    // A match that takes a delimiter on either side is found with the string between two of them.
    const rendered = [JSON.stringify(redacted), ...DELIMITERS.map((d) => `${d}${redacted}${d}`)];
    return rendered.every(clean) ? redacted : REDACTED;
  };
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return leaf(node);
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value)]));
    return node;
  };
  return walk(report) as DriftReport;
}

export function renderDriftTable(report: DriftReport, style: Style = plain): string {
  const header = ['OPERATION', 'CASE', 'STATUS', 'RESULT', 'TIME'];
  const rows = report.checks.map((c) => [
    c.operation,
    c.case,
    c.status === c.expectedStatus ? String(c.status ?? '-') : `${c.expectedStatus ?? '-'}->${c.status ?? 'none'}`,
    c.outcome === 'pass' ? 'ok' : c.outcome === 'warning' ? 'warning' : 'DRIFT',
    `${c.durationMs.toFixed(1)} ms`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const lines = [style.dim(header.map((h, i) => pad(h, widths[i]!)).join('  ').trimEnd())];
  rows.forEach((row, index) => {
    const check = report.checks[index]!;
    const line = row.map((cell, i) => pad(cell, widths[i]!)).join('  ').trimEnd();
    lines.push(check.outcome === 'drift' ? style.fail(line) : line);
    for (const f of check.findings) lines.push(`    - ${f.severity === 'warning' ? 'warning' : 'breaking'} ${f.kind}: ${f.message}`);
  });
  return lines.join('\n');
}

export function summarizeDrift(report: DriftReport): string {
  const { checks, passed, drift, warnings } = report.summary;
  const verdict = drift > 0 ? `DRIFT in ${drift} of ${checks} checks` : `no drift in ${checks} checks`;
  const forms = report.killForms
    ? `; kill forms: ${Object.entries(report.killForms)
        .map(([form, v]) => `${form} ${v.verdict}`)
        .join(', ')}`
    : '';
  const sandbox = report.sandbox ? `; ${describeSandbox(report.sandbox)}` : '';
  return `${report.provider} at ${report.baseUrl}: ${verdict} (${passed} ok, ${warnings} with warnings)${forms} in ${(report.durationMs / 1000).toFixed(1)} s${sandbox}`;
}

/** Which sandbox a check used and what became of it, in one phrase. */
export function describeSandbox(sandbox: NonNullable<DriftReport['sandbox']>): string {
  if (!sandbox.created) return `sandbox ${sandbox.id} (given with --sandbox; left running)`;
  return `throwaway sandbox ${sandbox.id} ${sandbox.deleted ? 'created and deleted' : 'created, NOT deleted (delete it yourself)'}`;
}

function xml(text: string): string {
  return text
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function testcase(report: DriftReport, check: DriftCheck): string {
  const name = `${check.expectedStatus ?? ''} ${check.case}`.trim();
  const open = `    <testcase classname="${xml(`${report.provider}.${check.operation}`)}" name="${xml(name)}" time="${(check.durationMs / 1000).toFixed(3)}"`;
  const breaking = check.findings.filter((f) => f.severity === 'breaking');
  const warnings = check.findings.filter((f) => f.severity === 'warning');
  if (breaking.length === 0 && warnings.length === 0) return `${open}/>`;
  const parts = [`${open}>`];
  if (breaking.length > 0) {
    parts.push(`      <failure message="${xml(breaking[0]!.message)}" type="${xml(breaking[0]!.kind)}">${xml(breaking.map((f) => `${f.kind}: ${f.message}`).join('\n'))}</failure>`);
  }
  if (warnings.length > 0) parts.push(`      <system-out>${xml(warnings.map((f) => `warning ${f.kind}: ${f.message}`).join('\n'))}</system-out>`);
  parts.push('    </testcase>');
  return parts.join('\n');
}

function sandboxProperties(sandbox: NonNullable<DriftReport['sandbox']>): string[] {
  const property = (name: string, value: string) => `      <property name="${xml(name)}" value="${xml(value)}"/>`;
  return [
    '    <properties>',
    property('sandbox.id', sandbox.id),
    property('sandbox.controlPlane', sandbox.controlPlane),
    property('sandbox.created', String(sandbox.created)),
    property('sandbox.deleted', String(sandbox.deleted)),
    '    </properties>',
  ];
}

/** JUnit XML, one testcase per check, as CI systems display it natively. */
export function renderJunit(report: DriftReport): string {
  const { checks, drift } = report.summary;
  const seconds = (report.durationMs / 1000).toFixed(3);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="sandbox-procs drift" tests="${checks}" failures="${drift}" errors="0" time="${seconds}">`,
    `  <testsuite name="${xml(`${report.provider} drift`)}" tests="${checks}" failures="${drift}" errors="0" skipped="0" time="${seconds}" timestamp="${report.startedAt}">`,
    ...(report.sandbox ? sandboxProperties(report.sandbox) : []),
    ...report.checks.map((check) => testcase(report, check)),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
