// Drives the Tensorlake control plane (`sandbox-procs emulate --provider tensorlake
// --control-plane`) with the official `tensorlake` SDK as a user's code would: it is
// configured by the environment only, and calls Sandbox.create / connect / list,
// the process API, terminate, and suspend / resume / a timeout that runs out. Run under Node >= 22 by
// test/control-plane-tensorlake.test.ts; usable by hand too:
//
//   TENSORLAKE_API_URL=http://127.0.0.1:PORT TENSORLAKE_SANDBOX_PROXY_URL=http://127.0.0.1:PORT \
//   TENSORLAKE_API_KEY=... node run-control-flow.mjs
//
// Every request goes through a logging proxy (logging-proxy.mjs) so that the test
// can check each exchange against the specs; the SDK sees only the proxy's URL in
// the same variables. Output: one JSON line per step, then {"done": true, ...}.
import { readFileSync } from 'node:fs';
import { startLoggingProxy } from './logging-proxy.mjs';

const API_KEY = process.env.TENSORLAKE_API_KEY;
const API_URL = process.env.TENSORLAKE_API_URL;
const PROXY_URL = process.env.TENSORLAKE_SANDBOX_PROXY_URL;
const STEP_TIMEOUT_MS = Number(process.env.STEP_TIMEOUT_MS ?? 15_000);
if (!API_KEY || !API_URL || !PROXY_URL) {
  console.error('run-control-flow.mjs needs TENSORLAKE_API_URL, TENSORLAKE_SANDBOX_PROXY_URL and TENSORLAKE_API_KEY');
  process.exit(2);
}

let current = null; // the step being run: its requests are collected here
const proxies = new Map();
for (const url of new Set([API_URL, PROXY_URL])) proxies.set(url, await startLoggingProxy(url, { owner: () => current, secrets: [API_KEY] }));
// The SDK reads these when it is loaded: point them at the proxies first.
process.env.TENSORLAKE_API_URL = proxies.get(API_URL).url;
process.env.TENSORLAKE_SANDBOX_PROXY_URL = proxies.get(PROXY_URL).url;
const { Sandbox } = await import('tensorlake');

/** Short, so that the flow waits for it: it must outlast create, suspend and resume. */
const TIMEOUT_SECS = 4;

/** The state letter of /proc/<pid>/stat, or null when no such process is visible here. */
function procState(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return null;
  }
}

function withDeadline(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`${what}: no answer within ${ms} ms`), { name: 'StepTimeout' })), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function step(name, fn) {
  const entry = { step: name, requests: [] };
  current = entry;
  try {
    entry.value = JSON.parse(JSON.stringify((await withDeadline(Promise.resolve().then(fn), STEP_TIMEOUT_MS, name)) ?? null));
    entry.ok = true;
  } catch (error) {
    entry.ok = false;
    entry.error = { name: error?.name ?? typeof error, message: String(error?.message ?? error), ...(typeof error?.statusCode === 'number' ? { statusCode: error.statusCode } : {}) };
  }
  // Let the proxy finish recording a response that the SDK already consumed.
  await new Promise((resolve) => setTimeout(resolve, 20));
  current = null;
  process.stdout.write(`${JSON.stringify(entry)}\n`);
  return entry;
}

const s = {};
try {
  // The flow, in sandbox A: create, startProcess, followStdout, killProcess, run, terminate.
  await step('create A', async () => {
    s.a = await Sandbox.create();
    return { sandboxId: s.a.sandboxId };
  });
  await step('create B', async () => {
    s.b = await Sandbox.create({ name: 'sandbox-b' });
    return { sandboxId: s.b.sandboxId };
  });
  await step('A startProcess', async () => {
    const p = await s.a.startProcess('sh', { args: ['-c', 'echo hello; echo world; exec sleep 30'] });
    s.talker = p.pid;
    return p;
  });
  await step('A followStdout', async () => {
    // Two lines, then stop following: the process goes on (it sleeps) until killed.
    const abort = new AbortController();
    const lines = [];
    for await (const event of s.a.followStdout(s.talker, { signal: abort.signal })) {
      lines.push(event.line);
      if (lines.length === 2) break;
    }
    abort.abort();
    return lines;
  });
  await step('A startProcess sleeper', async () => {
    const p = await s.a.startProcess('sleep', { args: ['30'] });
    s.sleeper = p.pid;
    return p;
  });
  await step('list', () => Sandbox.list());
  await step('A info', () => s.a.info());
  await step('connect A', async () => {
    const again = await Sandbox.connect({ sandboxId: s.a.sandboxId });
    return (await again.listProcesses()).map((p) => p.pid);
  });
  await step('A listProcesses', async () => (await s.a.listProcesses()).map((p) => ({ pid: p.pid, status: p.status })));
  await step('B listProcesses', async () => (await s.b.listProcesses()).map((p) => p.pid));
  await step('B killProcess A sleeper', () => s.b.killProcess(s.sleeper));
  await step('A getProcess sleeper after B kill', () => s.a.getProcess(s.sleeper));
  await step('A killProcess', () => s.a.killProcess(s.talker));
  await step('A getProcess after kill', async () => {
    for (const deadline = Date.now() + 5_000; ; ) {
      const info = await s.a.getProcess(s.talker);
      if (info.status !== 'running' || Date.now() > deadline) return info;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  await step('A run', () => s.a.run('sh', { args: ['-c', 'echo ran; pwd'] }));
  await step('A terminate', () => s.a.terminate());
  await step('list after terminate A', () => Sandbox.list());
  await step('get A after terminate', () => Sandbox.connect({ sandboxId: s.a.sandboxId }).then((again) => again.info()));
  await step('B terminate', () => s.b.terminate());

  // The lifecycle, as the SDK publishes it: create(timeoutSecs) -> suspend -> resume -> the timeout runs out.
  // Only a named sandbox may be suspended (dist/index.d.ts, SandboxClient.suspend).
  await step('create C timeoutSecs', async () => {
    s.cRequestedAt = Date.now();
    s.c = await Sandbox.create({ name: 'sandbox-c', timeoutSecs: TIMEOUT_SECS });
    return { sandboxId: s.c.sandboxId, timeoutSecs: TIMEOUT_SECS };
  });
  await step('C startProcess sleeper', async () => {
    const p = await s.c.startProcess('sleep', { args: ['60'] });
    s.cSleeper = p.pid;
    return p;
  });
  await step('C suspend', async () => {
    await s.c.suspend({ pollInterval: 0.05 });
    return s.c.status();
  });
  // The state letter of the sleeper in /proc ('T': stopped), when its PID is one of this machine's (isolation none).
  await step('C sleeper state while suspended', () => procState(s.cSleeper));
  await step('C resume', async () => {
    await s.c.resume({ pollInterval: 0.05 });
    return s.c.status();
  });
  await step('C getProcess sleeper after resume', () => s.c.getProcess(s.cSleeper));
  await step('C sleeper state after resume', () => procState(s.cSleeper));
  await step('C timeout runs out', async () => {
    const seen = [];
    for (;;) {
      const status = await s.c.status();
      if (seen.at(-1) !== status) seen.push(status);
      if (status !== 'running') return { statuses: seen, afterMs: Date.now() - s.cRequestedAt };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
  await step('C info after timeout', () => s.c.info());
  await step('C listProcesses after timeout', () => s.c.listProcesses());
} finally {
  current = { requests: [] };
  // Leave nothing behind, whatever failed above (the emulator stops them too).
  for (const sandbox of [s.a, s.b, s.c]) await sandbox?.terminate().catch(() => {});
  const sdkVersion = JSON.parse(readFileSync(new URL('./node_modules/tensorlake/package.json', import.meta.url), 'utf8')).version;
  process.stdout.write(`${JSON.stringify({ done: true, node: process.version, sdk: sdkVersion })}\n`);
  for (const proxy of proxies.values()) proxy.close();
  process.stdout.write('', () => process.exit(0));
}
