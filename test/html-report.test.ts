// The HTML reports (drift and check) rendered in a real headless Chromium:
// made from real runs (the emulators, and a drifted HopX stand-in that answers
// with hostile bodies and echoes the token), opened from a file, screenshotted,
// and read back: the counts the page shows are the report's own, the page asks
// the network for nothing, runs nothing a server sent, and shows no token.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { runDrift, type DriftReport } from '../src/contract/drift.js';
import { renderCheckHtml, renderDriftHtml } from '../src/contract/html-report.js';
import { runScenarios, startEmulatorTarget, type RunningTarget, type ScenarioResult } from '../src/contract/run.js';
import { scenariosFor } from '../src/contract/scenarios.js';
import { redactText } from '../src/core/redact.js';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { browserSkipped, pngSize, withBrowser } from './support/browser.js';
import { jsonAnswer, startStandIn, type RunningStandIn } from './support/stand-ins.js';
import { channelsPending } from './support/pending-channels.js';

/** Ignored by git (.gitignore): the pages and their screenshots stay for a person to look at. */
const OUT = join(import.meta.dirname, '..', '.vitest-reports', 'html-report');
const HOSTILE = `</script><img src=x onerror=alert(1)><script>alert(2)</script> a & b < c "quoted" 'single'`;
// Go's net/http answer to a path no handler serves (the HopX agent is a Go server).
const GO_NOT_FOUND = { status: 404, contentType: 'text/plain; charset=utf-8', body: '404 page not found\n' };

const skipped = browserSkipped('the HTML report tests in headless Chromium (test/html-report.test.ts)');

/** What a page must not hold: anything that loads from elsewhere. */
function externalReferences(html: string): string[] {
  return [
    ...html.matchAll(/\b(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?\/\//gi),
    ...html.matchAll(/@import/gi),
    ...html.matchAll(/url\s*\(/gi),
    ...html.matchAll(/<(?:script|link|iframe|object|embed|img)\b/gi),
  ].map((m) => m[0]);
}

interface Rendered {
  counts: Record<string, number>;
  requests: string[];
  dialogs: string[];
  consoleErrors: string[];
  elements: { img: number; script: number };
  preTexts: string[];
  killForms: Record<string, string>;
  background: { light: string; dark: string; print: string };
  png: Buffer;
}

/** Writes the page, opens it from file:// in Chromium, screenshots it and reads back what it shows. */
async function render(name: string, html: string): Promise<Rendered> {
  await mkdir(OUT, { recursive: true });
  const file = join(OUT, `${name}.html`);
  await writeFile(file, html);
  const url = pathToFileURL(file).href;
  return withBrowser(async (context) => {
    const page = await context.newPage();
    const requests: string[] = [];
    const dialogs: string[] = [];
    const consoleErrors: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(url, { waitUntil: 'load' });

    const counts: Record<string, number> = {};
    for (const hook of await page.locator('[data-count]').all()) {
      const key = (await hook.getAttribute('data-count'))!;
      // A count that is in the page but not on screen is not shown to anyone.
      expect(await hook.isVisible(), `count ${key} is visible`).toBe(true);
      const box = await hook.boundingBox();
      expect(box && box.width > 0 && box.height > 0, `count ${key} has a size on screen`).toBe(true);
      counts[key] = Number((await hook.innerText()).trim());
    }
    const killForms: Record<string, string> = {};
    for (const row of await page.locator('[data-kill-form]').all()) {
      killForms[(await row.getAttribute('data-kill-form'))!] = (await row.locator('.badge').innerText()).trim();
    }
    const elements = await page.evaluate(() => ({ img: document.querySelectorAll('img').length, script: document.querySelectorAll('script').length }));
    const preTexts = await page.locator('pre').allTextContents();
    const png = await page.screenshot({ fullPage: true, path: join(OUT, `${name}.png`) });

    const backgroundNow = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const light = await backgroundNow();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await backgroundNow();
    await page.screenshot({ fullPage: true, path: join(OUT, `${name}-dark.png`) });
    await page.emulateMedia({ media: 'print', colorScheme: 'dark' });
    const print = await backgroundNow();
    return { counts, requests, dialogs, consoleErrors, elements, preTexts, killForms, background: { light, dark, print }, png };
  });
}

/** What every rendered report must be, whatever it reports. */
function expectSoundPage(html: string, rendered: Rendered, name: string): void {
  expect(externalReferences(html)).toEqual([]);
  // The page itself, from disk, and nothing else: no font, no image, no favicon from anywhere.
  expect(rendered.requests).toEqual([pathToFileURL(join(OUT, `${name}.html`)).href]);
  // A blocked inline style (the Content-Security-Policy) would show up here.
  expect(rendered.consoleErrors).toEqual([]);
  expect(rendered.dialogs).toEqual([]);
  expect(rendered.elements).toEqual({ img: 0, script: 0 });
  const { width, height } = pngSize(rendered.png);
  expect(width).toBe(1280);
  // A report runs past one screen; a page that failed to render is a blank viewport.
  expect(height).toBeGreaterThan(800);
  expect(rendered.png.length).toBeGreaterThan(40_000);
  expect(rendered.background.dark).not.toBe(rendered.background.light);
  expect(rendered.background.print).toBe('rgb(255, 255, 255)');
}

const owned: Array<RunningEmulator | RunningStandIn | RunningTarget> = [];
afterAll(async () => {
  await Promise.all(owned.splice(0).map((o) => o.stop()));
});

/**
 * A HopX whose agent drifted: no POST /execute/kill/{id} (the router's 404), an
 * HTML page for the process list, and a health body that echoes the token as a
 * field name (a finding's message then holds it).
 */
async function startDriftedHopx(): Promise<RunningStandIn> {
  let token = '';
  const server = await startStandIn('hopx', {
    before: (r) => (/^\/execute\/kill\/[^/]+$/.test(r.path) ? GO_NOT_FOUND : undefined),
    after(r, upstream) {
      if (r.method === 'GET' && r.path === '/execute/processes' && upstream.status === 200) return { status: 200, contentType: 'text/html', body: HOSTILE };
      if (r.method === 'GET' && r.path === '/health' && upstream.status === 200) return jsonAnswer(200, { ...JSON.parse(upstream.body), [token]: HOSTILE });
      return upstream;
    },
  });
  token = server.token;
  owned.push(server);
  return server;
}

describe.skipIf(skipped)('HTML reports in headless Chromium', () => {
  let clean: DriftReport;
  let drifted: DriftReport;
  let driftedToken: string;
  let driftedUrl: string;

  beforeAll(async () => {
    const emulator = await startEmulator('hopx');
    owned.push(emulator);
    clean = await runDrift({ provider: 'hopx', baseUrl: emulator.baseUrl, token: emulator.token, toolVersion: 'test', timeoutMs: 5_000 });
    const server = await startDriftedHopx();
    driftedToken = server.token;
    driftedUrl = server.baseUrl;
    drifted = await runDrift({ provider: 'hopx', baseUrl: server.baseUrl, token: server.token, toolVersion: 'test', timeoutMs: 5_000 });
  }, 90_000);

  it('drift against the emulator: the counts on screen are the report\'s, every kill form accepted', async () => {
    const html = renderDriftHtml(clean);
    const rendered = await render('drift-emulator', html);
    expectSoundPage(html, rendered, 'drift-emulator');
    const { checks, passed, drift, warnings } = clean.summary;
    expect(rendered.counts).toEqual({ checks, passed, drift, warnings });
    expect(checks).toBeGreaterThan(10);
    expect(rendered.killForms).toEqual({ body: 'accepted', query: 'accepted', path: 'accepted', post: 'accepted' });
  }, 60_000);

  it('drift against a drifted HopX: findings with their request and response, verdicts, hostile bodies inert, no token', async () => {
    // The page is only a good test of redaction if the token is in the report it renders.
    expect(JSON.stringify(drifted).includes(driftedToken), 'the raw report holds the echoed token').toBe(true);
    const html = renderDriftHtml(drifted, { redact: (text) => redactText(text, driftedToken) });
    expect(html.includes(driftedToken), 'the token is in the page').toBe(false);
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');

    const rendered = await render('drift-drifted', html);
    expectSoundPage(html, rendered, 'drift-drifted');
    const { checks, passed, drift, warnings } = drifted.summary;
    expect(rendered.counts).toEqual({ checks, passed, drift, warnings });
    expect(drift).toBeGreaterThan(0);
    expect(warnings).toBeGreaterThan(0);
    expect(rendered.killForms).toEqual(Object.fromEntries(Object.entries(drifted.killForms!).map(([form, v]) => [form, v.verdict])));
    expect(rendered.killForms.path).toBe('missing-route');

    // The hostile body is shown as the text it is, in the response excerpt, next to the request that got it.
    expect(rendered.preTexts).toContain(`200 text/html\n\n${HOSTILE}`);
    const list = drifted.checks.find((c) => c.operation === 'list_processes' && c.expectedStatus === 200)!;
    expect(list.outcome).toBe('drift');
    // The report carries the evidence for a finding, and none for a pass.
    expect(list.request).toMatchObject({ method: 'GET', url: `${driftedUrl}/execute/processes`, headers: { authorization: 'Bearer [REDACTED]' } });
    expect(list.response).toEqual({ status: 200, contentType: 'text/html', bodyExcerpt: HOSTILE });
    expect(drifted.checks.filter((c) => c.outcome === 'pass').every((c) => c.request === undefined && c.response === undefined)).toBe(true);
    expect(rendered.preTexts.some((text) => text.startsWith(`GET ${driftedUrl}/execute/processes\n`) && /\nauthorization: Bearer \[REDACTED\]/.test(text))).toBe(true);
  }, 60_000);

  it('check against the emulators: passed, failed and total, and per provider', async () => {
    const running = await startEmulatorTarget(['tensorlake', 'hopx']);
    owned.push(running);
    const started = performance.now();
    const results = await runScenarios(scenariosFor(['tensorlake', 'hopx']), running.target, { timeoutMs: 5_000 });
    const html = renderCheckHtml({ target: running.target.name, results, wallMs: performance.now() - started });
    const rendered = await render('check-emulator', html);
    expectSoundPage(html, rendered, 'check-emulator');
    expect(rendered.counts).toEqual({ ...expectedCheckCounts(results) });
    expect(rendered.counts['tensorlake.total']).toBeGreaterThan(0);
    expect(rendered.counts['hopx.total']).toBeGreaterThan(0);
  }, 90_000);

  it('check against the drifted HopX: its failures with their evidence, no token', async () => {
    const target = { name: 'drifted hopx', kind: 'stateful' as const, baseUrls: { hopx: driftedUrl }, apiKeys: { hopx: driftedToken } };
    const started = performance.now();
    const results = await runScenarios(scenariosFor(['hopx']), target, { timeoutMs: 5_000 });
    const html = renderCheckHtml({ target: target.name, results, wallMs: performance.now() - started }, { redact: (text) => redactText(text, driftedToken) });
    expect(results.some((r) => r.warnings.some((w) => w.includes(driftedToken))), 'a warning holds the echoed token').toBe(true);
    expect(html.includes(driftedToken), 'the token is in the page').toBe(false);
    const rendered = await render('check-drifted', html);
    expectSoundPage(html, rendered, 'check-drifted');
    expect(rendered.counts).toEqual(expectedCheckCounts(results));
    expect(rendered.counts.failed).toBeGreaterThan(0);
    expect(rendered.preTexts).toContain(`200 text/html\n\n${HOSTILE}`);
  }, 90_000);
});

describe.skipIf(skipped)('the CLI writes the same pages: --html', () => {
  const quiet = { out: () => {}, err: () => {}, color: false };

  it.skipIf(channelsPending('hopx'))('drift --html FILE, beside --json FILE: the page shows the JSON report\'s counts', async () => {
    const emulator = await startEmulator('hopx');
    owned.push(emulator);
    await mkdir(OUT, { recursive: true });
    const [html, json] = [join(OUT, 'cli-drift.html'), join(OUT, 'cli-drift.json')];
    process.env.SP_HTML_TEST_TOKEN = emulator.token;
    try {
      const argv = ['drift', '--provider', 'hopx', '--base-url', emulator.baseUrl, '--token-env', 'SP_HTML_TEST_TOKEN', '--json', json, '--html', html, '--timeout-ms', '5000'];
      expect(await main(argv, quiet)).toBe(0);
    } finally {
      delete process.env.SP_HTML_TEST_TOKEN;
    }
    const page = await readFile(html, 'utf8');
    const report = JSON.parse(await readFile(json, 'utf8')) as DriftReport;
    expect(page.includes(emulator.token)).toBe(false);
    const rendered = await render('cli-drift', page);
    expectSoundPage(page, rendered, 'cli-drift');
    const { checks, passed, drift, warnings } = report.summary;
    expect(rendered.counts).toEqual({ checks, passed, drift, warnings });
  }, 90_000);

  it.skipIf(channelsPending('hopx'))('check --html FILE: the page shows the counts of the --json results', async () => {
    await mkdir(OUT, { recursive: true });
    const [html, json] = [join(OUT, 'cli-check.html'), join(OUT, 'cli-check.json')];
    expect(await main(['check', '--target', 'emulator', '--provider', 'hopx', '--json', json, '--html', html], quiet)).toBe(0);
    const page = await readFile(html, 'utf8');
    const report = JSON.parse(await readFile(json, 'utf8')) as { results: Array<{ passed: boolean }> };
    const rendered = await render('cli-check', page);
    expectSoundPage(page, rendered, 'cli-check');
    expect(rendered.counts).toMatchObject({ total: report.results.length, passed: report.results.filter((r) => r.passed).length, failed: 0, 'hopx.total': report.results.length });
  }, 90_000);
});

function expectedCheckCounts(results: readonly ScenarioResult[]): Record<string, number> {
  const counts: Record<string, number> = { total: results.length, passed: results.filter((r) => r.passed).length, failed: results.filter((r) => !r.passed).length };
  for (const r of results) {
    const p = r.scenario.provider;
    counts[`${p}.total`] = (counts[`${p}.total`] ?? 0) + 1;
    counts[`${p}.${r.passed ? 'passed' : 'failed'}`] = (counts[`${p}.${r.passed ? 'passed' : 'failed'}`] ?? 0) + 1;
    counts[`${p}.${r.passed ? 'failed' : 'passed'}`] ??= 0;
  }
  return counts;
}
