// `sandbox-procs`: thin on purpose. It parses flags and calls the contract engine.
// What a command runs is imported inside it, after its peers are checked: the
// contract engine needs optional peers (cli-peers.ts) that --help, --version and
// emulate must run without.
import { constants as fsConstants, readFileSync, type Stats } from 'node:fs';
import { access, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { IsolationState } from './emulator/emulator.js';
import { HANDLED_SIGNALS } from './emulator/signals.js';
import type { ProviderName } from './errors.js';
import type { DriftReport } from './contract/drift.js';
import { redactReport, renderDriftTable, renderJunit, summarizeDrift } from './contract/drift-report.js';
import { ansi, plain, renderTable, summarize, toJson } from './contract/report.js';
import type { RunningTarget } from './contract/run.js';
import { controlScenariosFor, scenariosFor } from './contract/scenarios.js';
import { providerNames as providers, registry } from './registry.js';
import { COMMAND_HELP, HELP } from './cli-help.js';
import { parseFlags, UsageError } from './cli-args.js';
import { CHANNEL_PEERS, EMULATOR_CHECK_PEERS, missingPeers, PRISM_PEERS, requirePeers, SESSION_PEERS } from './cli-peers.js';
import { MIN_SECRET_CHARACTERS, redactText } from './core/redact.js';
import { packageRoot } from './package-root.js';

export const EXIT = { ok: 0, failed: 1, cannotRun: 2 } as const;


export interface Io {
  out(text: string): void;
  err(text: string): void;
  color: boolean;
}

const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
};

function parseProviders(values: string[] | undefined): ProviderName[] {
  if (!values || values.length === 0) return providers;
  for (const value of values) {
    if (!providers.includes(value as ProviderName)) throw new UsageError(`unknown provider "${value}" (choose from ${providers.join(', ')})`);
  }
  return providers.filter((p) => values.includes(p));
}

async function check(args: string[], io: Io): Promise<number> {
  const values = parseFlags('check', args, {
    provider: { type: 'string', short: 'p', multiple: true },
    target: { type: 'string', short: 't' },
    json: { type: 'boolean', optionalValue: true },
    html: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(COMMAND_HELP.check);
    return EXIT.ok;
  }
  const selected = parseProviders(values.provider);
  const targetName = values.target ?? 'prism';
  if (targetName !== 'prism' && targetName !== 'emulator') throw new UsageError(`unknown target "${targetName}" (choose prism or emulator)`);
  // `--json` alone prints the JSON instead of the table; `--json FILE` writes it there, beside the table.
  const jsonFile = typeof values.json === 'string' ? await outputFile('--json', values.json) : undefined;
  const htmlFile = values.html !== undefined ? await outputFile('--html', values.html) : undefined;
  if (jsonFile !== undefined && jsonFile === htmlFile) throw new UsageError('--json and --html name the same file');
  requirePeers(values.target === undefined ? 'check' : `check --target ${targetName}`, targetName === 'prism' ? PRISM_PEERS : EMULATOR_CHECK_PEERS);
  const { runnableOn, runScenarios, startEmulatorTarget, startPrismTarget } = await import('./contract/run.js');
  const starting = targetName === 'prism' ? 'Prism mocks' : 'emulators';
  const wallStart = performance.now();

  // Installed before Prism starts: an interrupt at any point stops what is running.
  // Mocks still starting are killed by prism.ts's exit hook when we exit.
  let running: RunningTarget | undefined;
  const stopOnSignal = (signal: NodeJS.Signals) => {
    io.err(`\nInterrupted (${signal}); stopping the ${starting}.\n`);
    void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(128 + constants.signals[signal]));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  io.err(`Starting ${starting} for ${selected.join(', ')}...\n`);
  try {
    running = await (targetName === 'prism' ? startPrismTarget(selected) : startEmulatorTarget(selected));
  } catch (error) {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    io.err(`error: could not start the ${starting}: ${(error as Error).message}\n`);
    return EXIT.cannotRun;
  }
  // Control-plane scenarios run where the target serves a control plane (the emulator target); runnableOn drops them elsewhere.
  const scenarios = runnableOn(running.target, [...scenariosFor(selected), ...controlScenariosFor(selected)]);

  try {
    io.err(`Ready in ${((performance.now() - wallStart) / 1000).toFixed(1)} s; running ${scenarios.length} scenarios against ${running.target.name}\n`);
    const results = await runScenarios(scenarios, running.target);
    const summary = summarize(results, performance.now() - wallStart);
    const json = `${JSON.stringify({ target: running.target.name, ...toJson(results), summary }, null, 2)}\n`;
    if (values.json === true) {
      io.out(json);
    } else {
      const style = io.color ? ansi : plain;
      io.out(`${renderTable(results, style)}\n\n${results.every((r) => r.passed) ? style.pass(summary) : style.fail(summary)}\n`);
    }
    const files: Array<{ flag: string; file: string; path: string | undefined; render: () => string | Promise<string> }> = [
      { flag: '--json', file: String(values.json), path: jsonFile, render: () => json },
      {
        flag: '--html',
        file: values.html ?? '',
        path: htmlFile,
        render: async () => (await import('./contract/html-report.js')).renderCheckHtml({ target: running!.target.name, results, wallMs: performance.now() - wallStart, toolVersion: version() }),
      },
    ];
    // Each file on its own: one that cannot be written does not cost the other.
    let written = true;
    for (const { flag, file, path, render } of files) {
      if (path === undefined) continue;
      try {
        await writeFile(path, await render());
      } catch (error) {
        written = false;
        io.err(`error: could not write the ${flag} file ${file}: ${(error as Error).message}\n`);
      }
    }
    if (!written) return EXIT.cannotRun;
    return results.every((r) => r.passed) ? EXIT.ok : EXIT.failed;
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await running.stop();
  }
}

/** Hosts a token may go to over plain http://, as the clients allow (src/core/options.ts). */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
/** The largest delay a Node timer takes (2^31 - 1 ms); past it, Node fires after 1 ms. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * A URL flag (--base-url, --control-plane-url, --proxy-url, or the variable it
 * defaults to), checked as the clients will check it, in the flag's own words.
 * `show` hides the token in what is echoed.
 */
function checkedUrl(flag: string, raw: string, show: (text: string) => string, example: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${flag} must be an absolute http(s) URL (${example}), got "${show(raw)}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`${flag} must be an absolute http(s) URL (${example}), got "${show(raw)}"`);
  // Not echoed: what sits before the @ is a credential.
  if (url.username || url.password) throw new UsageError(`${flag} must not carry credentials (user:password@); the token is read from the environment`);
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
    throw new UsageError(`${flag}: refusing to send an API key over plain http:// to a non-loopback host; use https://`);
  }
  if (url.search || url.hash) throw new UsageError(`${flag} must not have a query or a fragment (the API's paths are appended to it), got "${show(raw)}"`);
  return raw;
}

/** --base-url: a sandbox's own URL. */
function driftBaseUrl(raw: string, show: (text: string) => string): string {
  return checkedUrl('--base-url', raw, show, 'such as https://7777-<sandbox>.<region>.vms.hopx.dev, or http://127.0.0.1:PORT for a local server');
}

/** A URL from its flag, else from the variable the provider's tools read it from (unset or empty: undefined). */
function urlFlagOrVariable(flag: string, given: string | undefined, variable: string | undefined, show: (text: string) => string): string | undefined {
  const example = 'https://..., or http://127.0.0.1:PORT for a local emulator';
  if (given !== undefined) {
    if (given === '') throw new UsageError(`${flag} needs a URL`);
    return checkedUrl(flag, given, show, example);
  }
  const value = variable === undefined ? undefined : process.env[variable]?.trim();
  return value ? checkedUrl(`${variable} (read because ${flag} was not given)`, value, show, example) : undefined;
}

function driftTimeout(raw: string | undefined): number {
  if (raw === undefined) return 10_000;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_TIMEOUT_MS) throw new UsageError(`--timeout-ms must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, got "${raw}"`);
  return n;
}

/**
 * An output file, checked before the first request: its folder exists, it is not
 * a folder itself, and we may write there. Nothing is created here: a run that
 * cannot finish leaves no empty or half-written report behind.
 */
async function outputFile(flag: '--json' | '--junit' | '--html', file: string): Promise<string> {
  if (file === '') throw new UsageError(`${flag} needs a file name`);
  const path = resolve(file);
  const folder = dirname(path);
  const cannot = (why: string) => new UsageError(`${flag} ${file}: ${why}; nothing was run`);
  const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? String(error);
  let info: Stats;
  try {
    info = await stat(folder);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') throw cannot(`the folder ${folder} does not exist`);
    if (codeOf(error) === 'ENOTDIR') throw cannot(`${folder} is not a folder`);
    throw cannot(`cannot use the folder ${folder} (${codeOf(error)})`);
  }
  if (!info.isDirectory()) throw cannot(`${folder} is not a folder`);
  let existing: Stats | undefined;
  try {
    existing = await stat(path);
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw cannot(`cannot use it (${codeOf(error)})`);
  }
  if (existing?.isDirectory()) throw cannot('it is a folder, not a file');
  try {
    await access(existing ? path : folder, existing ? fsConstants.W_OK : fsConstants.W_OK | fsConstants.X_OK);
  } catch (error) {
    throw cannot(existing ? `the file cannot be written (${codeOf(error)})` : `cannot create files in ${folder} (${codeOf(error)})`);
  }
  return path;
}

/** What an HTTP header can carry: no control characters, nothing past U+00FF, no blank at either end. */
const HEADER_VALUE = /^[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?$/;

/** A throwaway sandbox ends itself after this long should every delete fail: longer than a check takes, short enough to cost little. */
const BACKSTOP_SECONDS = 600;
/** The least time a control-plane call gets (a create answers once the sandbox runs), whatever --timeout-ms says of the checks. */
const CONTROL_TIMEOUT_MS = 60_000;
/** What a sandbox ID given with --sandbox may hold: it goes into a URL path. */
const SANDBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

async function drift(args: string[], io: Io): Promise<number> {
  const values = parseFlags('drift', args, {
    provider: { type: 'string', short: 'p' },
    'base-url': { type: 'string' },
    'token-env': { type: 'string' },
    'api-key-env': { type: 'string' },
    'control-plane-url': { type: 'string' },
    'proxy-url': { type: 'string' },
    sandbox: { type: 'string' },
    json: { type: 'string' },
    junit: { type: 'string' },
    html: { type: 'string' },
    'allow-mutations': { type: 'boolean' },
    'timeout-ms': { type: 'string' },
    // Declared only to answer it: a token on the command line is visible to every local user.
    token: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(COMMAND_HELP.drift);
    return EXIT.ok;
  }
  if (values.token !== undefined) {
    throw new UsageError('unknown flag --token for drift\nThe token goes in an environment variable, named with --token-env VAR (a command line is visible to every local user).');
  }
  requirePeers('drift', CHANNEL_PEERS);
  const { DriftCannotRunError, runDrift } = await import('./contract/drift.js');
  // Every flag and output path is checked before the token, and everything before the first request.
  if (!values.provider) throw new UsageError('drift needs --provider');
  const [provider] = parseProviders([values.provider]);
  const entry = registry[provider!];
  // Two ways in: a sandbox's URL and its token, or the provider's API key (a sandbox of its own, or one named by ID).
  const byKey = values['api-key-env'] !== undefined;
  if (byKey && values['base-url'] !== undefined) throw new UsageError('give --base-url (a sandbox\'s URL, its token in --token-env) or --api-key-env (the provider\'s API key), not both');
  if (byKey && values['token-env'] !== undefined) throw new UsageError('--token-env goes with --base-url; with --api-key-env the sandbox\'s token comes from the control plane');
  if (!byKey) {
    if (values['base-url'] === undefined || values['base-url'] === '') {
      throw new UsageError(`drift needs --base-url URL (a sandbox, its token in --token-env) or --api-key-env VAR (the provider's API key, usually ${entry.apiKeyEnv}: a throwaway sandbox is created, checked and deleted)`);
    }
    for (const flag of ['sandbox', 'control-plane-url', 'proxy-url'] as const) if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with --api-key-env VAR, not with --base-url`);
  }
  if (values['proxy-url'] !== undefined && entry.sandboxProxyEnv === undefined) {
    const withProxy = providers.filter((name) => registry[name].sandboxProxyEnv !== undefined).join(' or ');
    throw new UsageError(`--proxy-url is for --provider ${withProxy}: ${provider} has no sandbox proxy`);
  }
  const sandboxId = values.sandbox;
  if (sandboxId !== undefined && !SANDBOX_ID.test(sandboxId)) throw new UsageError(`--sandbox must be a sandbox ID (letters, digits, ".", "_", "-"), got "${sandboxId}"`);
  const secretEnv = byKey ? values['api-key-env']! : (values['token-env'] ?? entry.tokenEnv);
  if (secretEnv === '') throw new UsageError('--api-key-env needs a variable name');
  const secretName = byKey ? 'API key' : 'token';
  // Fetch requests drop blanks at either end of a header value: the token is what is left.
  const secret = (process.env[secretEnv] ?? '').replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  // Last line of defence: whatever we print or write, no secret is in it, in any escaped form (the API key, and a token obtained with it).
  const secrets = secret === '' ? [] : [secret];
  const hide = (text: string) => secrets.reduce((shown, one) => redactText(shown, one), text);
  const givenBaseUrl = byKey ? undefined : driftBaseUrl(values['base-url']!, hide);
  const controlPlaneUrl = byKey ? urlFlagOrVariable('--control-plane-url', values['control-plane-url'], entry.controlPlaneEnv, hide) : undefined;
  const proxyUrl = byKey ? urlFlagOrVariable('--proxy-url', values['proxy-url'], entry.sandboxProxyEnv, hide) : undefined;
  const timeoutMs = driftTimeout(values['timeout-ms']);
  const outputs: Array<{ flag: '--json' | '--junit' | '--html'; file: string; path: string; render: (report: DriftReport) => string }> = [];
  if (values.json !== undefined) {
    outputs.push({ flag: '--json', file: values.json, path: await outputFile('--json', values.json), render: (report) => `${JSON.stringify(report, null, 2)}\n` });
  }
  if (values.junit !== undefined) outputs.push({ flag: '--junit', file: values.junit, path: await outputFile('--junit', values.junit), render: renderJunit });
  if (values.html !== undefined) {
    const { renderDriftHtml } = await import('./contract/html-report.js');
    outputs.push({ flag: '--html', file: values.html, path: await outputFile('--html', values.html), render: (report) => renderDriftHtml(report) });
  }
  for (const [i, a] of outputs.entries()) {
    const twin = outputs.slice(i + 1).find((b) => b.path === a.path);
    if (twin) throw new UsageError(`${a.flag} and ${twin.flag} name the same file`);
  }
  const variableFlag = byKey ? '--api-key-env' : '--token-env';
  if (!secret) throw new UsageError(`the ${secretName} variable ${secretEnv} is not set (the ${secretName} is read from the environment, never from a flag; name the variable with ${variableFlag})`);
  if (!HEADER_VALUE.test(secret)) {
    throw new UsageError(`the ${secretName} in ${secretEnv} holds characters an HTTP header cannot carry (control characters, or characters past U+00FF)`);
  }
  // Redaction hides every form of the secret in every output; a secret that ordinary text
  // or the report's own words contain would take them with it (see MIN_SECRET_CHARACTERS).
  if ([...secret].length < MIN_SECRET_CHARACTERS) {
    throw new UsageError(`the ${secretName} in ${secretEnv} has fewer than ${MIN_SECRET_CHARACTERS} characters: too short to be an API key, and hiding it would hide ordinary words of the report`);
  }
  const { isReportVocabulary } = await import('./contract/report-vocabulary.js');
  if (isReportVocabulary(provider!, secret)) {
    throw new UsageError(`the ${secretName} in ${secretEnv} is among the words the report itself prints (an operation, a case, a heading): hiding it would destroy the report, and printing the report would print it`);
  }

  // Set by a signal: the check still runs while its sandbox is deleted, and what it finds then is no finding.
  let interrupted = false;
  if (!byKey) return await checkDrift({ baseUrl: givenBaseUrl!, token: secret, headers: {} }, undefined);

  // From here on a sandbox may exist that this run must delete: every way out goes through release().
  const { leaseSandbox } = await import('./contract/drift-sandbox.js');
  const lease = leaseSandbox({
    provider: provider!,
    apiKey: secret,
    timeoutMs: Math.max(timeoutMs, CONTROL_TIMEOUT_MS),
    backstopSeconds: BACKSTOP_SECONDS,
    ...(controlPlaneUrl !== undefined && { controlPlaneUrl }),
    ...(proxyUrl !== undefined && { proxyUrl }),
    ...(sandboxId !== undefined && { sandboxId }),
    onCreated: (id) => io.err(`Created throwaway sandbox ${id} (it ends itself after ${BACKSTOP_SECONDS} s should the delete fail)\n`),
  });
  const released = async () => {
    const outcome = await lease.release();
    if (outcome.deleted) io.err(`Deleted throwaway sandbox ${outcome.id}\n`);
    else if (outcome.problem !== undefined) io.err(`error: could not delete throwaway sandbox ${outcome.id}: ${hide(outcome.problem)}; it ends itself within ${BACKSTOP_SECONDS} s of its creation\n`);
    return outcome;
  };
  // Listening to every signal, not once: a CI runner that cancels a job signals again (GitHub
  // Actions: SIGINT, then SIGTERM), and a repeat must not end the process before the delete does.
  const stopOnSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      if (sandboxId === undefined) io.err(`${signal}: still deleting the sandbox; it ends itself ${BACKSTOP_SECONDS} s after its creation should this be cut short\n`);
      return;
    }
    interrupted = true;
    io.err(`\nInterrupted (${signal}); ${sandboxId === undefined ? 'deleting the throwaway sandbox' : 'stopping'}.\n`);
    void released().finally(() => process.exit(128 + constants.signals[signal]));
  };
  process.on('SIGINT', stopOnSignal);
  process.on('SIGTERM', stopOnSignal);
  try {
    let sandbox: Awaited<typeof lease.ready>;
    try {
      sandbox = await lease.ready;
    } catch (error) {
      const what = sandboxId === undefined ? 'create and reach a sandbox' : `reach sandbox ${sandboxId}`;
      io.err(`error: could not ${what} through ${hide(controlPlaneUrl ?? 'the provider\'s control plane')}: ${hide(error instanceof Error ? error.message : String(error))}\n`);
      await released();
      return EXIT.cannotRun;
    }
    if (sandbox.token !== secret) secrets.push(sandbox.token);
    // Interrupted while the sandbox was being made: no check starts; the signal handler deletes it and exits.
    if (interrupted) return await new Promise<number>(() => undefined);
    return await checkDrift(sandbox, async () => {
      const outcome = await released();
      return { id: sandbox.id, controlPlane: sandbox.controlPlane, created: sandbox.created, deleted: outcome.deleted };
    });
  } finally {
    await lease.release();
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  }

  /**
   * Runs the check and writes what it found. `finish`, with a sandbox of the run's own,
   * deletes it before anything is written, so that the report can say it was.
   */
  async function checkDrift(route: { baseUrl: string; token: string; headers: Record<string, string>; id?: string }, finish: (() => Promise<NonNullable<DriftReport['sandbox']>>) | undefined): Promise<number> {
    const { baseUrl } = route;
    const which = route.id !== undefined ? ` sandbox ${route.id}` : '';
    io.err(hide(`Checking ${provider}${which} at ${baseUrl}${values['allow-mutations'] ? ' (mutations allowed)' : ''}...\n`));
    let report: DriftReport;
    let found: DriftReport | undefined;
    let problem: string | undefined;
    try {
      let done = 0;
      found = await runDrift({
        provider: provider!,
        baseUrl,
        token: route.token,
        ...(Object.keys(route.headers).length > 0 && { headers: route.headers }),
        allowMutations: values['allow-mutations'] ?? false,
        timeoutMs,
        toolVersion: version(),
        onCheck: (check) => {
          if (interrupted) return;
          done++;
          if (check.outcome === 'drift') io.err(`  drift: ${hide(check.operation)} ${hide(check.case)}\n`);
          else if (done % 10 === 0) io.err(`  ${done} checks done\n`);
        },
      });
    } catch (error) {
      problem = error instanceof DriftCannotRunError ? error.message : error instanceof Error ? error.message : String(error);
    }
    const sandbox = await finish?.();
    if (interrupted) return new Promise<number>(() => undefined); // the signal handler exits
    if (found === undefined) {
      io.err(`error: could not run the drift check: ${hide(problem ?? 'no report')}\n`);
      return EXIT.cannotRun;
    }
    // Redacted before anything is rendered: JSON and XML escaping would hide the token from a search afterwards.
    report = redactReport(sandbox ? { ...found, sandbox } : found, hide);
    const style = io.color ? ansi : plain;
    const summary = summarizeDrift(report);
    io.out(hide(`${renderDriftTable(report, style)}\n\n${report.summary.drift > 0 ? style.fail(summary) : style.pass(summary)}\n`));
    // Each file on its own: one that cannot be written (the disk filled up since the check) does not cost the other.
    let written = true;
    for (const output of outputs) {
      try {
        await writeFile(output.path, hide(output.render(report)));
      } catch (error) {
        written = false;
        io.err(`error: could not write the ${output.flag} file ${output.file}: ${hide((error as Error).message)}\n`);
      }
    }
    if (!written) return EXIT.cannotRun;
    if (report.summary.drift > 0) return EXIT.failed;
    // A throwaway sandbox left behind costs money until its backstop: CI must hear of it, though after drift.
    if (sandbox?.created && !sandbox.deleted) return EXIT.cannotRun;
    return EXIT.ok;
  }
}

async function emulate(args: string[], io: Io): Promise<number> {
  const values = parseFlags('emulate', args, {
    provider: { type: 'string', short: 'p' },
    port: { type: 'string' },
    token: { type: 'string' },
    'token-env': { type: 'string' },
    'max-running': { type: 'string' },
    'max-output-bytes': { type: 'string' },
    'max-body-bytes': { type: 'string' },
    'control-plane': { type: 'boolean' },
    'token-ttl': { type: 'string' },
    isolation: { type: 'string' },
    'write-env': { type: 'string' },
    // Node 20 itself reads any --env-file in its argv, even after the script, and exits 9 when
    // the file does not exist yet: --write-env is the name that works there; this one from Node 22 on.
    'env-file': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(COMMAND_HELP.emulate);
    return EXIT.ok;
  }
  if (!values.provider) throw new UsageError('emulate needs --provider');
  const [provider] = parseProviders([values.provider]);
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`--port must be a port number, got "${values.port}"`);
  const token = emulatorToken(values.token, values['token-env'], io);
  const maxRunning = positiveWhole('--max-running', values['max-running']);
  const maxOutputBytes = positiveWhole('--max-output-bytes', values['max-output-bytes']);
  const maxBodyBytes = positiveWhole('--max-body-bytes', values['max-body-bytes']);
  const tokenTtlSeconds = positiveWhole('--token-ttl', values['token-ttl']);
  if (tokenTtlSeconds !== undefined && !(values['control-plane'] && registry[provider!].agentTokens)) {
    const withTokens = providers.filter((name) => registry[name].agentTokens).join(' or ');
    throw new UsageError(`--token-ttl needs --control-plane and --provider ${withTokens}: only those control planes hand out agent tokens`);
  }
  const isolation = values.isolation;
  if (isolation !== undefined && isolation !== 'none' && isolation !== 'auto' && isolation !== 'strict') throw new UsageError(`--isolation must be auto, strict or none, got "${isolation}"`);
  if (values['write-env'] !== undefined && values['env-file'] !== undefined) throw new UsageError('give --write-env or --env-file, not both');
  const envFileFlag = values['write-env'] !== undefined ? '--write-env' : '--env-file';
  const envFileName = values['write-env'] ?? values['env-file'];
  if (envFileName === '') throw new UsageError(`${envFileFlag} needs a file name`);
  const envFilePath = envFileName === undefined ? undefined : resolve(envFileName);

  const { startEmulator } = await import('./emulator/index.js');
  const { exportLines, writeEnvFile } = await import('./emulator/env-file.js');
  // Listening before the emulator starts: a signal that comes while it starts, or between two ready
  // lines, still stops it cleanly (exit 0) instead of ending Node by default (the reaper's job).
  const stopSignal = firstStopSignal();
  let emulator: Awaited<ReturnType<typeof startEmulator>>;
  try {
    // Signals are handled below (stop, then exit 0); a second signal, SIGKILL or a crash is the reaper's.
    emulator = await startEmulator(provider!, {
      port,
      handleSignals: false,
      controlPlane: values['control-plane'] ?? false,
      ...(isolation !== undefined && { isolation }),
      ...(token !== undefined && { token }),
      ...(maxBodyBytes !== undefined && { maxBodyBytes }),
      ...(tokenTtlSeconds !== undefined && { tokenTtlSeconds }),
      limits: { ...(maxRunning !== undefined && { maxRunning }), ...(maxOutputBytes !== undefined && { maxOutputBytes }) },
    });
  } catch (error) {
    const why =
      (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
        ? `port ${port} on 127.0.0.1 is in use; choose another --port, or --port 0 for a free one`
        : `could not start the ${provider} emulator: ${(error as Error).message}`;
    io.err(`error: ${why}\n`);
    stopSignal.dispose();
    return EXIT.cannotRun;
  }
  // The file first: a script that reads the ready lines must never find a server that is already stopping.
  let envFile: Awaited<ReturnType<typeof writeEnvFile>> | undefined;
  if (envFilePath !== undefined) {
    try {
      envFile = await writeEnvFile(envFilePath, emulator.env, envFileFlag);
    } catch (error) {
      io.err(`error: ${(error as Error).message}\n`);
      stopSignal.dispose();
      await emulator.stop();
      return EXIT.cannotRun;
    }
  }
  io.out(`${provider} ${values['control-plane'] ? 'control plane' : 'emulator'} listening on ${emulator.baseUrl}\n`);
  io.out(`isolation: ${describeIsolation(emulator.isolation, values['control-plane'] ?? false)}\n`);
  if (emulator.isolation.mode === 'auto' && !values['control-plane'] && !emulator.isolation.confined) io.err(`warning: ${emulator.isolation.note}\n`);
  const sessionPeersMissing = missingPeers(SESSION_PEERS);
  if (sessionPeersMissing.length > 0) {
    io.err(`warning: streamed execution and terminals (WebSocket sessions) need the optional peers ${SESSION_PEERS.join(' and ')}; without ${sessionPeersMissing.join(' and ')} they answer an error naming it: npm install --save-dev ${SESSION_PEERS.join(' ')}\n`);
  }
  if ('settings' in emulator) {
    // The official SDK's endpoint settings; the key is shown only when it was generated here, as below.
    const shown = Object.entries(emulator.settings as Record<string, string>).map(([name, value]) => `  ${name}=${value === emulator.token && token !== undefined ? '<your token>' : value}`);
    io.out(`official SDK settings:\n${shown.join('\n')}\n`);
  }
  // A token the user chose is theirs and not echoed; a generated one must be shown to be usable.
  io.out(token === undefined ? `token: ${emulator.token}\n` : `token: the one given with ${values.token !== undefined ? '--token' : `--token-env ${values['token-env']}`}\n`);
  // The names the examples and the official SDK read, ready to paste; a token the user chose stays unprinted here too.
  const hidden = token === undefined ? undefined : { value: token, ...(values['token-env'] !== undefined && { fromVariable: values['token-env'] }) };
  io.out(`To point the examples${'settings' in emulator ? ' and the official SDK' : ''} here, paste into your shell${envFilePath === undefined ? ' (or write them to a file with --write-env FILE)' : ''}:\n${exportLines(emulator.env, hidden).join('\n')}\n`);
  if (envFile !== undefined) io.out(`wrote ${envFilePath} (mode 0600; removed when the emulator stops): node --env-file=${envFileName} your-program.js\n`);
  io.out('Press Ctrl-C to stop; every process it started is stopped with it.\n');
  const signal = await stopSignal.received;
  io.err(`\n${signal}: stopping the ${provider} emulator.\n`);
  await emulator.stop();
  await envFile?.remove();
  return EXIT.ok;
}

/** The first of SIGINT, SIGTERM or SIGHUP; after it (or dispose) the listeners are gone, so a second signal ends the process at once. */
function firstStopSignal(): { received: Promise<NodeJS.Signals>; dispose: () => void } {
  const stopSignals = HANDLED_SIGNALS;
  let resolveSignal!: (signal: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((resolve) => (resolveSignal = resolve));
  const listeners = stopSignals.map((signal) => () => {
    dispose();
    resolveSignal(signal);
  });
  const dispose = () => stopSignals.forEach((signal, i) => process.off(signal, listeners[i]!));
  stopSignals.forEach((signal, i) => process.on(signal, listeners[i]!));
  return { received, dispose };
}

/** One line on what confines the sandbox's processes. */
function describeIsolation(state: IsolationState, controlPlane: boolean): string {
  if (controlPlane) return state.mode === 'none' ? 'none (each sandbox\'s processes run with your rights)' : `${state.mode} for each sandbox (each one's info says what holds)`;
  if (!state.confined) return state.mode === 'none' ? 'none: processes run as this emulator\'s children, with your rights (--isolation auto or strict confines them)' : `NOT CONFINED: ${state.note ?? ''}`;
  const limits = state.limits;
  const caps = limits
    ? [`${limits.maxProcesses} processes`, ...(limits.memoryBytes !== undefined ? [`${Math.round(limits.memoryBytes / 1048576)} MiB`] : []), ...(limits.cpus !== undefined ? [`${limits.cpus} CPUs`] : [])].join(', ')
    : 'no limits';
  const network = state.network?.internet ? `HTTP(S) only, through the egress proxy ${state.network.proxy ?? ''}` : 'none';
  return `confined (bubblewrap: own filesystem view, PID and network namespaces; cgroup ${limits?.cgroup ?? 'none'}: ${caps}; network: ${network})${state.note ? `; ${state.note}` : ''}`;
}

/** The token from --token-env (preferred) or --token (visible to every local user, so it warns); undefined: generate one. */
function emulatorToken(flag: string | undefined, envName: string | undefined, io: Io): string | undefined {
  if (flag !== undefined && envName !== undefined) throw new UsageError('give --token or --token-env, not both');
  if (envName !== undefined) {
    const value = process.env[envName];
    if (value === undefined || value.trim() === '') throw new UsageError(`--token-env ${envName}: the variable is not set or empty`);
    return value;
  }
  if (flag === undefined) return undefined;
  if (flag.trim() === '') throw new UsageError('--token must not be empty');
  io.err('warning: --token is visible to every local user (ps, /proc/<pid>/cmdline); prefer --token-env VAR\n');
  return flag;
}

function positiveWhole(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive whole number, got "${value}"`);
  return n;
}

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check':
        return await check(rest, io);
      case 'drift':
        return await drift(rest, io);
      case 'emulate':
        return await emulate(rest, io);
      case '-v':
      case '--version':
        io.out(`${version()}\n`);
        return EXIT.ok;
      case 'help': {
        const topic = rest[0] as keyof typeof COMMAND_HELP | undefined;
        if (topic !== undefined && !(topic in COMMAND_HELP)) throw new UsageError(`no help for "${topic}"`);
        io.out(topic ? COMMAND_HELP[topic] : HELP);
        return EXIT.ok;
      }
      case undefined:
      case '-h':
      case '--help':
        io.out(HELP);
        return command === undefined ? EXIT.cannotRun : EXIT.ok;
      default:
        throw new UsageError(command.startsWith('-') ? `unknown flag ${command}` : `unknown command "${command}"`);
    }
  } catch (error) {
    const hint = error instanceof UsageError ? `Run \`sandbox-procs ${command && command in COMMAND_HELP ? `${command} ` : ''}--help\` for usage.\n` : '';
    // A missing peer names its install command; anything else unexpected is still one line, not a stack trace.
    io.err(`error: ${(error as Error).message}\n${hint}`);
    return EXIT.cannotRun;
  }
}
