// Drives a Tensorlake process API (our emulator) with the official `tensorlake` SDK.
// Run under Node >= 22 by test/official-sdk-tensorlake.test.ts; usable by hand too:
//
//   TARGET_URL=http://127.0.0.1:PORT TOKEN=... node run-sdk.mjs
//
// The SDK's sandbox calls go through its bundled native (Rust) HTTP client, so
// this script puts a tiny logging proxy (logging-proxy.mjs) on 127.0.0.1 between the SDK and the
// target: every request the SDK sends (method, path, headers, body) and the
// response it got (status, content type, body) is recorded against the step
// that sent it. Steps run one after another, so the attribution is exact.
//
// Output: one JSON line per step on stdout,
//   {"step", "ok", "value"?, "error"?: {name, message, statusCode?}, "requests": [...]}
// then {"done": true, "node", "sdk"}. Every step has a deadline; the script never hangs.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { RemoteAPIError, Sandbox } from 'tensorlake';
import { startLoggingProxy } from './logging-proxy.mjs';

const TARGET_URL = process.env.TARGET_URL;
const TOKEN = process.env.TOKEN;
const SANDBOX_ID = process.env.SANDBOX_ID ?? 'sbx-official-sdk';
const STEP_TIMEOUT_MS = Number(process.env.STEP_TIMEOUT_MS ?? 10_000);
if (!TARGET_URL || !TOKEN) {
  console.error('run-sdk.mjs needs TARGET_URL and TOKEN');
  process.exit(2);
}

// ---- logging proxy -------------------------------------------------------
let current = null; // the step being run: its requests are collected here
const proxy = await startLoggingProxy(TARGET_URL, { owner: () => current, secrets: [TOKEN] });
const proxyUrl = proxy.url;

// ---- steps ---------------------------------------------------------------
const sandbox = new Sandbox({ sandboxId: SANDBOX_ID, proxyUrl, apiKey: TOKEN });
const me = userInfo().username;
const state = {};

function withDeadline(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`${what}: no answer within ${ms} ms`), { name: 'StepTimeout' })), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function describeError(error) {
  const out = { name: error?.name ?? typeof error, message: String(error?.message ?? error) };
  if (error instanceof RemoteAPIError || typeof error?.statusCode === 'number') out.statusCode = error.statusCode;
  return out;
}

function plain(value) {
  return JSON.parse(JSON.stringify(value ?? null));
}

async function step(name, fn) {
  const entry = { step: name, requests: [] };
  current = entry;
  try {
    entry.value = plain(await withDeadline(Promise.resolve().then(fn), STEP_TIMEOUT_MS, name));
    entry.ok = true;
  } catch (error) {
    entry.ok = false;
    entry.error = describeError(error);
  }
  // Let the proxy finish recording a response that the SDK already consumed.
  await new Promise((resolve) => setTimeout(resolve, 20));
  current = null;
  process.stdout.write(`${JSON.stringify(entry)}\n`);
  return entry;
}

async function collect(iterable, limit = 100) {
  const events = [];
  for await (const event of iterable) {
    events.push(event);
    if (events.length >= limit) break;
  }
  return events;
}

async function waitUntilDone(process, ms = 5_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const info = await sandbox.getProcess(process);
    if (info.status !== 'running' || Date.now() > deadline) return info;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

try {
  await step('health', () => sandbox.health());

  // Start: plain, then each option the SDK adds on its own.
  await step('startProcess', async () => {
    const p = await sandbox.startProcess('sleep', { args: ['30'] });
    state.sleeper = p.pid;
    return p;
  });
  await step('startProcess user string', async () => {
    const p = await sandbox.startProcess('sleep', { args: ['30'], user: me });
    state.userString = p.pid;
    return p;
  });
  await step('startProcess user object {name}', async () => {
    const p = await sandbox.startProcess('sleep', { args: ['30'], user: { name: me } });
    state.userObject = p.pid;
    return p;
  });
  await step('startProcess name', async () => {
    const p = await sandbox.startProcess('sleep', { args: ['30'], name: 'sdk-sleeper' });
    state.named = p.pid;
    return p;
  });
  await step('startProcess name + user', async () => {
    const p = await sandbox.startProcess('sleep', { args: ['30'], name: 'sdk named sleeper', user: { name: me } });
    state.namedUser = p.pid;
    return p;
  });

  await step('listProcesses', () => sandbox.listProcesses());
  await step('getProcess pid', () => sandbox.getProcess(state.sleeper));
  await step('getProcess name', () => sandbox.getProcess('sdk-sleeper'));
  await step('getProcess name with space', () => sandbox.getProcess('sdk named sleeper'));
  await step('getProcess unknown pid', () => sandbox.getProcess(999_999));
  await step('getProcess unknown name', () => sandbox.getProcess('no-such-process'));

  await step('sendSignal pid', () => sandbox.sendSignal(state.sleeper, 15));
  await step('getProcess pid after SIGTERM', () => waitUntilDone(state.sleeper));
  await step('sendSignal name', () => sandbox.sendSignal('sdk-sleeper', 15));

  await step('killProcess pid', () => sandbox.killProcess(state.userString));
  await step('killProcess name', () => sandbox.killProcess('sdk named sleeper'));
  await step('killProcess unknown pid', () => sandbox.killProcess(999_999));

  await step('run', () => sandbox.run('sh', { args: ['-c', 'echo out1; echo err1 >&2; echo out2; exit 3'] }));
  await step('run user object {name}', () => sandbox.run('sh', { args: ['-c', 'echo hi'], user: { name: me } }));

  await step('startProcess for output', async () => {
    const p = await sandbox.startProcess('sh', { args: ['-c', 'echo line1; echo oops >&2; echo line2'] });
    state.printer = p.pid;
    return waitUntilDone(p.pid);
  });
  await step('getStdout', () => sandbox.getStdout(state.printer));
  await step('getOutput', () => sandbox.getOutput(state.printer));
  await step('followStdout', () => collect(sandbox.followStdout(state.printer)));
  await step('getStdout unknown pid', () => sandbox.getStdout(999_999));

  await step('startProcess stdin pipe', async () => {
    const p = await sandbox.startProcess('cat', { stdinMode: 'pipe' });
    state.cat = p.pid;
    return p;
  });
  await step('writeStdin', () => sandbox.writeStdin(state.cat, new TextEncoder().encode('hello from the sdk\n')));
  await step('closeStdin', () => sandbox.closeStdin(state.cat));
  await step('followStdout after closeStdin', () => collect(sandbox.followStdout(state.cat)));
  await step('getProcess after closeStdin', () => waitUntilDone(state.cat));

  await step('wrong apiKey', () => new Sandbox({ sandboxId: SANDBOX_ID, proxyUrl, apiKey: 'not-the-token' }).listProcesses());
} finally {
  // Leave nothing behind: whatever still runs is killed (the emulator stops them too).
  current = { requests: [] };
  for (const pid of Object.values(state)) await sandbox.killProcess(pid).catch(() => {});
  const sdkVersion = JSON.parse(readFileSync(new URL('./node_modules/tensorlake/package.json', import.meta.url), 'utf8')).version;
  process.stdout.write(`${JSON.stringify({ done: true, node: process.version, sdk: sdkVersion })}\n`);
  proxy.close();
  // A stream the SDK still holds (a step that timed out) must not keep this process alive.
  process.stdout.write('', () => process.exit(0));
}
