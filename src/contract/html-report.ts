// The drift and check reports as one self-contained HTML page each, for people:
// inline CSS only, no script, no external URL (and a Content-Security-Policy that
// would refuse them anyway), readable in light and dark mode and on paper. Every
// string a server or a user could have chosen is escaped; secrets are redacted
// before anything is escaped, since an escaped secret no longer reads as itself.
import type { DriftCheck, DriftReport, KillFormVerdict } from './drift.js';
import { describeSandbox, redactReport } from './drift-report.js';
import type { RequestEvidence, ScenarioResult } from './run.js';

export interface HtmlOptions {
  /** Applied to every string of the report before it is rendered (the CLI's token redaction). */
  redact?: (text: string) => string;
}

/** What `sandbox-procs check` ran: the target's name, its results and how long the whole run took. */
export interface CheckRun {
  target: string;
  results: readonly ScenarioResult[];
  wallMs: number;
  toolVersion?: string;
}

interface ResponseEvidence {
  status: number;
  contentType: string | null;
  bodyExcerpt: string;
}

/** How much of a response body the page shows (the engine keeps no more than this either). */
const EXCERPT_CHARS = 2_048;

/** Characters HTML text must not carry as they are: controls and lone surrogates become U+FFFD. */
const UNSAFE = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(UNSAFE, '\ufffd').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const h = escapeHtml;

const CSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--card:#f6f8fa;--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--warn:#9a6700;--warn-bg:#fff8c5}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--card:#151b23;--ok:#3fb950;--ok-bg:#12261e;--bad:#f85149;--bad-bg:#2d1214;--warn:#d29922;--warn-bg:#272115}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:32px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:0 0 6px;overflow-wrap:anywhere}
.meta{color:var(--muted);margin:0;overflow-wrap:anywhere}
.banner{margin:16px 0;padding:12px 16px;border-radius:8px;border:1px solid;font-weight:600;font-size:16px}
.banner.ok{color:var(--ok);background:var(--ok-bg)}
.banner.bad{color:var(--bad);background:var(--bad-bg)}
.counts{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.count{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 16px}
.count .n{display:block;font-size:30px;font-weight:700;font-variant-numeric:tabular-nums}
.count .label{color:var(--muted)}
.count.ok .n{color:var(--ok)}.count.bad .n{color:var(--bad)}.count.warn .n{color:var(--warn)}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:break-word}
th{color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.04em;white-space:nowrap}
td.key{white-space:nowrap}
td.text{overflow-wrap:anywhere}
.num{text-align:right;white-space:nowrap}
tr.bad td:first-child{box-shadow:inset 3px 0 var(--bad)}
tr.warn td:first-child{box-shadow:inset 3px 0 var(--warn)}
.badge{display:inline-block;padding:0 8px;border-radius:999px;border:1px solid;font-size:12px;font-weight:600;white-space:nowrap}
.badge.ok{color:var(--ok);background:var(--ok-bg)}.badge.bad{color:var(--bad);background:var(--bad-bg)}.badge.warn{color:var(--warn);background:var(--warn-bg)}.badge.none{color:var(--muted)}
.finding{border:1px solid var(--line);border-left:4px solid var(--bad);border-radius:8px;padding:12px 16px;margin:12px 0;background:var(--card);break-inside:avoid}
.finding.warn{border-left-color:var(--warn)}
.finding ul{margin:6px 0;padding-left:20px}
.finding li{margin:2px 0;overflow-wrap:anywhere}
.evidence{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:12px;margin-top:8px}
.evidence h4{margin:0;font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
code,pre{font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre b{font-weight:700}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px 10px;margin:4px 0 0;white-space:pre-wrap;overflow-wrap:anywhere;max-height:320px;overflow:auto}
.none{color:var(--muted)}
footer{margin-top:40px;color:var(--muted);font-size:12px}
@media (max-width:800px){.evidence{grid-template-columns:minmax(0,1fr)}}
@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--line:#bbb;--card:#fff;--ok:#116329;--ok-bg:#fff;--bad:#a40e26;--bad-bg:#fff;--warn:#6c4400;--warn-bg:#fff}
body{font-size:11px}main{max-width:none;padding:0}pre{max-height:none;overflow:visible}tr{break-inside:avoid}h2{break-after:avoid}}
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light dark">
<title>${h(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

type Tone = 'ok' | 'bad' | 'warn' | 'none';

const badge = (tone: Tone, text: string) => `<span class="badge ${tone}">${h(text)}</span>`;

/** One summary figure; `data-count` is the hook a browser test (or a scraper) reads it by. */
const count = (key: string, label: string, n: number, tone: Tone = 'none') =>
  `<div class="count ${tone}"><span class="n" data-count="${h(key)}">${n}</span><span class="label">${h(label)}</span></div>`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The start of a body, as text, at most EXCERPT_CHARS characters (never half a character). */
function excerpt(body: string): string {
  if (body === '') return '<span class="none">(empty body)</span>';
  const chars = [...body];
  return chars.length > EXCERPT_CHARS ? `${h(chars.slice(0, EXCERPT_CHARS).join(''))}\n<span class="none">(cut at ${EXCERPT_CHARS} characters)</span>` : h(body);
}

/** The request and the response side by side; each a block whose first line is the request line or the status. */
function evidence(request: RequestEvidence | undefined, response: ResponseEvidence | undefined): string {
  const sent = request
    ? `<pre><b>${h(`${request.method} ${request.url}`)}</b>${Object.entries(request.headers)
        .map(([name, value]) => `\n${h(name)}: ${h(value)}`)
        .join('')}</pre>`
    : '<p class="none">no request was sent</p>';
  const answered = response
    ? `<pre><b>${h(`${response.status} ${response.contentType ?? '(no content type)'}`)}</b>\n\n${excerpt(response.bodyExcerpt)}</pre>`
    : '<p class="none">no response came</p>';
  return `<div class="evidence"><div><h4>Request</h4>${sent}</div><div><h4>Response</h4>${answered}</div></div>`;
}

/** Rows grouped by a key, in the order the keys first appear. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}

const table = (head: string[], rows: string[]) =>
  `<table><thead><tr>${head.map((c) => (c.startsWith('#') ? `<th class="num">${h(c.slice(1))}</th>` : `<th>${h(c)}</th>`)).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;

// ---- drift ------------------------------------------------------------------

const OUTCOME: Record<DriftCheck['outcome'], [Tone, string]> = { pass: ['ok', 'ok'], warning: ['warn', 'warning'], drift: ['bad', 'drift'] };
const VERDICT: Record<KillFormVerdict, Tone> = { accepted: 'ok', 'accepted-with-drift': 'warn', 'missing-route': 'bad', rejected: 'bad', unknown: 'none' };

const statusText = (expected: number | null, status: number | null) =>
  status === expected ? String(status ?? '-') : `expected ${expected ?? '-'}, got ${status ?? 'none'}`;

function driftFinding(check: DriftCheck): string {
  const tone = check.outcome === 'drift' ? 'bad' : 'warn';
  const items = check.findings.map((f) => `<li>${badge(f.severity === 'breaking' ? 'bad' : 'warn', f.severity)} <code>${h(f.kind)}</code> ${h(f.message)}</li>`).join('');
  const exchange = check.operation === 'lifecycle' ? '' : evidence(check.request, check.response);
  return `<section class="finding ${tone}" data-check-id="${h(check.id)}"><h3>${h(check.operation)} <span class="none">·</span> ${h(check.case)}</h3><p class="meta">status: ${h(statusText(check.expectedStatus, check.status))} · ${check.durationMs.toFixed(1)} ms</p><ul>${items}</ul>${exchange}</section>`;
}

export function renderDriftHtml(report: DriftReport, options: HtmlOptions = {}): string {
  const r = options.redact ? redactReport(report, options.redact) : report;
  const { checks, passed, drift, warnings } = r.summary;
  const banner = drift > 0 ? `<div class="banner bad">Drift in ${drift} of ${checks} checks</div>` : `<div class="banner ok">No drift in ${checks} checks</div>`;
  const counts = `<div class="counts">${count('checks', 'checks', checks)}${count('passed', 'passed', passed, 'ok')}${count('warnings', 'with warnings', warnings, warnings > 0 ? 'warn' : 'none')}${count('drift', 'drift', drift, drift > 0 ? 'bad' : 'none')}</div>`;

  const killForms = r.killForms
    ? `<h2>Kill forms</h2>${table(
        ['Form', 'Verdict', 'Evidence'],
        Object.entries(r.killForms).map(([form, v]) => `<tr data-kill-form="${h(form)}"><td class="key"><code>${h(form)}</code></td><td class="key">${badge(VERDICT[v.verdict] ?? 'none', v.verdict)}</td><td class="text">${h(v.evidence)}</td></tr>`),
      )}`
    : '';

  const operations = [...groupBy(r.checks, (c) => c.operation)].map(([operation, list]) => {
    const n = (outcome: DriftCheck['outcome']) => list.filter((c) => c.outcome === outcome).length;
    const worst = n('drift') > 0 ? 'drift' : n('warning') > 0 ? 'warning' : 'pass';
    const [tone, word] = OUTCOME[worst];
    return `<tr class="${tone}" data-operation="${h(operation)}"><td class="key"><code>${h(operation)}</code></td><td class="num">${list.length}</td><td class="num">${n('pass')}</td><td class="num">${n('warning')}</td><td class="num">${n('drift')}</td><td>${badge(tone, word)}</td></tr>`;
  });

  const withFindings = [...r.checks.filter((c) => c.outcome === 'drift'), ...r.checks.filter((c) => c.outcome === 'warning')];
  const findings = withFindings.length > 0 ? withFindings.map(driftFinding).join('') : '<p class="none">No findings: every check was answered as the spec says.</p>';

  const all = r.checks.map((c) => {
    const [tone, word] = OUTCOME[c.outcome];
    return `<tr class="${tone}"><td class="key"><code>${h(c.operation)}</code></td><td class="text">${h(c.case)}</td><td class="num">${c.expectedStatus ?? '-'}</td><td class="num">${c.status ?? 'none'}</td><td>${badge(tone, word)}</td><td class="num">${c.durationMs.toFixed(1)} ms</td></tr>`;
  });

  return page(
    `sandbox-procs drift: ${r.provider}${drift > 0 ? ` (drift in ${drift})` : ''}`,
    `<header><h1>Drift report: ${h(r.provider)}</h1>
<p class="meta">${h(r.baseUrl)} · started ${h(r.startedAt)} · ${seconds(r.durationMs)} · ${r.mutations ? 'mutations allowed' : 'read-only'}</p>${
      r.sandbox ? `<p class="meta" data-sandbox="${h(r.sandbox.id)}" data-deleted="${r.sandbox.deleted}">${h(describeSandbox(r.sandbox))} · control plane ${h(r.sandbox.controlPlane)}</p>` : ''
    }</header>
${banner}${counts}${killForms}
<h2>Per operation</h2>${table(['Operation', '#Checks', '#Passed', '#Warnings', '#Drift', 'Result'], operations)}
<h2>Findings</h2>${findings}
<h2>All checks</h2>${table(['Operation', 'Case', '#Expected', '#Status', 'Result', '#Time'], all)}
<footer>sandbox-procs ${h(r.toolVersion)} · drift report version ${r.version}</footer>`,
  );
}

// ---- check ------------------------------------------------------------------

interface CheckRow {
  provider: string;
  operation: string;
  case: string;
  expectedStatus: number;
  status: number | undefined;
  outcome: string;
  passed: boolean;
  ms: number;
  problems: string[];
  warnings: string[];
  request: RequestEvidence | undefined;
  response: ResponseEvidence | undefined;
  skipped: string | undefined;
}

/** The results as the page shows them, every string redacted here, once. */
function checkRows(results: readonly ScenarioResult[], redact: (text: string) => string): CheckRow[] {
  return results.map((result) => ({
    provider: result.scenario.provider,
    operation: result.scenario.operation,
    case: redact(result.label),
    expectedStatus: result.scenario.status,
    status: result.status,
    outcome: redact(result.outcome),
    passed: result.passed,
    ms: result.ms,
    problems: result.problems.map(redact),
    warnings: result.warnings.map(redact),
    skipped: result.skipped === undefined ? undefined : redact(result.skipped),
    request: result.request && {
      method: redact(result.request.method),
      url: redact(result.request.url),
      headers: Object.fromEntries(Object.entries(result.request.headers).map(([name, value]) => [redact(name), redact(value)])),
    },
    response:
      result.status === undefined || !result.response
        ? undefined
        : { status: result.status, contentType: result.response.contentType === null ? null : redact(result.response.contentType), bodyExcerpt: redact(result.response.bodyExcerpt) },
  }));
}

function checkFinding(row: CheckRow): string {
  const items = [
    ...row.problems.map((p) => `<li>${badge('bad', 'breaking')} ${h(p)}</li>`),
    ...row.warnings.map((w) => `<li>${badge('warn', 'warning')} ${h(w)}</li>`),
  ].join('');
  return `<section class="finding${row.passed ? ' warn' : ''}"><h3>${h(row.provider)} <code>${h(row.operation)}</code>${row.case ? ` <span class="none">·</span> ${h(row.case)}` : ''}</h3><p class="meta">status: ${h(statusText(row.expectedStatus, row.status ?? null))} · client: ${h(row.outcome)} · ${row.ms.toFixed(1)} ms</p><ul>${items}</ul>${evidence(row.request, row.response)}</section>`;
}

export function renderCheckHtml(run: CheckRun, options: HtmlOptions = {}): string {
  const rows = checkRows(run.results, options.redact ?? ((text) => text));
  const target = (options.redact ?? ((text: string) => text))(run.target);
  const failed = rows.filter((r) => !r.passed).length;
  const total = rows.length;
  const banner = failed > 0 ? `<div class="banner bad">${failed} of ${total} scenarios failed</div>` : `<div class="banner ok">All ${total} scenarios passed</div>`;
  const counts = `<div class="counts">${count('total', 'scenarios', total)}${count('passed', 'passed', total - failed, 'ok')}${count('failed', 'failed', failed, failed > 0 ? 'bad' : 'none')}</div>`;

  const perProvider = [...groupBy(rows, (r) => r.provider)].map(([provider, list]) => {
    const bad = list.filter((r) => !r.passed).length;
    const cell = (key: string, n: number) => `<td class="num"><span data-count="${h(`${provider}.${key}`)}">${n}</span></td>`;
    return `<tr class="${bad > 0 ? 'bad' : 'ok'}" data-provider="${h(provider)}"><td>${h(provider)}</td>${cell('total', list.length)}${cell('passed', list.length - bad)}${cell('failed', bad)}</tr>`;
  });

  const operations = [...groupBy(rows, (r) => `${r.provider} ${r.operation}`)].map(([, list]) => {
    const bad = list.filter((r) => !r.passed).length;
    const warned = list.filter((r) => r.passed && r.warnings.length > 0).length;
    const tone: Tone = bad > 0 ? 'bad' : warned > 0 ? 'warn' : 'ok';
    const { provider, operation } = list[0]!;
    return `<tr class="${tone}" data-operation="${h(operation)}"><td class="key">${h(provider)}</td><td class="key"><code>${h(operation)}</code></td><td class="num">${list.length}</td><td class="num">${list.length - bad}</td><td class="num">${bad}</td><td>${badge(tone, bad > 0 ? 'failed' : warned > 0 ? 'warnings' : 'passed')}</td></tr>`;
  });

  const notable = [...rows.filter((r) => !r.passed), ...rows.filter((r) => r.passed && r.warnings.length > 0)];
  const findings = notable.length > 0 ? notable.map(checkFinding).join('') : '<p class="none">No failures and no warnings: every scenario was answered as the spec says.</p>';

  const all = rows.map((r) => {
    const tone: Tone = !r.passed ? 'bad' : r.warnings.length > 0 ? 'warn' : 'ok';
    return `<tr class="${tone}"><td class="key">${h(r.provider)}</td><td class="key"><code>${h(r.operation)}</code></td><td class="text">${h(r.case || '-')}</td><td class="num">${r.expectedStatus}</td><td class="num">${r.status ?? 'none'}</td><td class="key">${h(r.outcome)}</td><td class="key">${badge(tone, r.skipped ? 'skip' : r.passed ? 'pass' : 'FAIL')}</td><td class="num">${r.ms.toFixed(1)} ms</td></tr>`;
  });
  const skippedRows = rows.filter((r) => r.skipped);
  const skipped =
    skippedRows.length === 0
      ? ''
      : `<h2>Skipped</h2><ul>${skippedRows.map((r) => `<li>${h(r.provider)} <code>${h(r.operation)}</code> · ${h(r.case)}: ${h(r.skipped!)}</li>`).join('')}</ul>`;

  return page(
    `sandbox-procs check: ${target}${failed > 0 ? ` (${failed} failed)` : ''}`,
    `<header><h1>Contract check against ${h(target)}</h1>
<p class="meta">${total} scenarios · ${seconds(run.wallMs)}</p></header>
${banner}${counts}
<h2>Per provider</h2>${table(['Provider', '#Scenarios', '#Passed', '#Failed'], perProvider)}
<h2>Per operation</h2>${table(['Provider', 'Operation', '#Scenarios', '#Passed', '#Failed', 'Result'], operations)}
<h2>Failures and warnings</h2>${findings}${skipped}
<h2>All scenarios</h2>${table(['Provider', 'Operation', 'Case', '#Expected', '#Status', 'Client', 'Result', '#Time'], all)}
<footer>sandbox-procs${run.toolVersion ? ` ${h(run.toolVersion)}` : ''} · contract check</footer>`,
  );
}
