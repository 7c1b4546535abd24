#!/usr/bin/env node
// npm run bench: what sandbox-procs costs its users, next to raw fetch (the
// floor) and to the official @hopx-ai/sdk, measured in one run with the
// contenders interleaved so that machine noise falls on all of them alike.
// Prints a table and writes the figures as JSON. Asserts nothing.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Sandbox, HTTPClient } from '@hopx-ai/sdk';
import { createHopxClient, createTensorlakeClient } from '../dist/src/index.js';
import { startPrism } from '../dist/src/prism.js';
import { specPath } from '../dist/src/specs.js';
import { benchEmulator, emulatorLines } from './emulator.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const { values: flags } = parseArgs({
  options: {
    calls: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '64' },
    batch: { type: 'string', default: '250' },
    warmup: { type: 'string', default: '500' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(root, 'bench', 'results.json') },
  },
});
const CALLS = Number(flags.calls);
const CONCURRENCY = Number(flags.concurrency);
const BATCH = Math.min(Number(flags.batch), CALLS);
const WARMUP = Number(flags.warmup);
const log = (text) => process.stderr.write(`${text}\n`);

// --- the server, in a process of its own -------------------------------------------------
const server = spawn(process.execPath, [join(root, 'bench', 'server.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
const [portLine] = await once(server.stdout, 'data');
const base = `http://127.0.0.1:${String(portLine).trim()}`;
const token = 'bench-token';
const auth = { Authorization: `Bearer ${token}` };

// --- the contenders --------------------------------------------------------------------
const tensorlake = createTensorlakeClient({ apiKey: token, baseUrl: base });
const hopx = createHopxClient({ apiKey: token, baseUrl: base });
// The SDK's own agent client and code path; only its control-plane lookup (which a
// real run does once, then caches) is skipped, since there is no control plane here.
const sdk = new Sandbox('sandbox_bench', 'bench-api-key', base);
sdk.agentClient = new HTTPClient({ baseURL: base, timeout: 60_000, maxRetries: 3, jwtToken: token });
sdk.ensureAgentClient = async () => {};

const expectOk = async (response, status) => {
  if (response.status !== status) throw new Error(`unexpected ${response.status}`);
  return status === 204 ? undefined : response.json();
};
const contenders = [
  ['tensorlake kill', 'raw fetch', () => fetch(`${base}/api/v1/processes/42`, { method: 'DELETE', headers: auth }).then((r) => expectOk(r, 204))],
  ['tensorlake kill', 'sandbox-procs', () => tensorlake.killProcess(42)],
  ['tensorlake list', 'raw fetch', () => fetch(`${base}/api/v1/processes`, { headers: auth }).then((r) => expectOk(r, 200))],
  ['tensorlake list', 'sandbox-procs', () => tensorlake.listProcesses()],
  ['tensorlake get', 'raw fetch', () => fetch(`${base}/api/v1/processes/42`, { headers: auth }).then((r) => expectOk(r, 200))],
  ['tensorlake get', 'sandbox-procs', () => tensorlake.getProcess(42)],
  [
    'hopx kill (docs form)',
    'raw fetch',
    () =>
      fetch(`${base}/execute/kill`, { method: 'DELETE', headers: { ...auth, 'content-type': 'application/json' }, body: '{"process_id":"proc_abc123"}' }).then((r) =>
        expectOk(r, 200),
      ),
  ],
  ['hopx kill (docs form)', 'sandbox-procs', () => hopx.killProcess('proc_abc123', { form: 'body' })],
  ['hopx kill (SDK form)', 'raw fetch', () => fetch(`${base}/execute/kill/proc_abc123`, { method: 'POST', headers: auth }).then((r) => expectOk(r, 200))],
  ['hopx kill (SDK form)', 'sandbox-procs', () => hopx.killProcess('proc_abc123', { form: 'path' })],
  ['hopx kill (SDK form)', '@hopx-ai/sdk', () => sdk.killProcess('proc_abc123')],
  ['hopx list', 'raw fetch', () => fetch(`${base}/execute/processes`, { headers: auth }).then((r) => expectOk(r, 200))],
  ['hopx list', 'sandbox-procs', () => hopx.listProcesses()],
  ['hopx list', '@hopx-ai/sdk', () => sdk.listProcesses()],
].map(([operation, client, call]) => ({ operation, client, call, seq: { latencies: [], ms: 0 }, conc: { latencies: [], ms: 0 } }));

async function batchSequential(contender, count) {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await contender.call();
    contender.seq.latencies.push(performance.now() - t);
  }
  contender.seq.ms += performance.now() - started;
}

async function batchConcurrent(contender, count) {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next++ < count) {
      const t = performance.now();
      await contender.call();
      contender.conc.latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  contender.conc.ms += performance.now() - started;
}

function summary({ latencies, ms }) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { calls: sorted.length, medianMs: round(at(0.5), 4), p99Ms: round(at(0.99), 4), callsPerSecond: round((sorted.length / ms) * 1000, 1) };
}
const round = (n, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

log(`server at ${base}; warming up (${WARMUP} calls each)...`);
for (const c of contenders) for (let i = 0; i < WARMUP; i++) await c.call();

const rounds = Math.ceil(CALLS / BATCH);
for (const mode of ['sequential', 'concurrent']) {
  log(`${mode}: ${CALLS} calls per contender in ${rounds} interleaved rounds${mode === 'concurrent' ? `, ${CONCURRENCY} in flight` : ''}...`);
  for (let r = 0; r < rounds; r++) {
    const count = Math.min(BATCH, CALLS - r * BATCH);
    // Rotate who goes first, so that no contender always follows the same one.
    const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
    for (const c of order) await (mode === 'sequential' ? batchSequential(c, count) : batchConcurrent(c, count));
  }
}

// --- Prism start-up, the check and the contract suite ----------------------------------------
async function prismStartup(provider) {
  const t = performance.now();
  const prism = await startPrism(specPath(provider));
  const ms = performance.now() - t;
  await prism.stop();
  return round(ms, 0);
}
async function wall(command, args) {
  const t = performance.now();
  await run(command, args, { cwd: root, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024 });
  return round((performance.now() - t) / 1000, 1);
}

log('Prism start-up (spawn to first answer)...');
const prism = { tensorlakeMs: await prismStartup('tensorlake'), hopxMs: await prismStartup('hopx') };
const t = performance.now();
await Promise.all([prismStartup('tensorlake'), prismStartup('hopx')]);
prism.bothInParallelMs = round(performance.now() - t, 0);

// --- the emulators: starts, list latency under load, RSS through a soak --------------------------
const emulator = await benchEmulator({ quick: flags.quick, log });

let walls = null;
if (!flags.quick) {
  log('wall time of the check (prism and emulator targets) and of the contract test suite...');
  walls = {
    checkPrismS: await wall(process.execPath, ['dist/src/bin.js', 'check']),
    checkEmulatorS: await wall(process.execPath, ['dist/src/bin.js', 'check', '--target', 'emulator']),
    contractSuiteS: await wall(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/contract.test.ts']),
  };
}

// --- installed size of what each client brings --------------------------------------------------
async function dirSize(dir, skipNodeModules = true) {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (skipNodeModules && entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await dirSize(path, skipNodeModules) : (await stat(path)).size;
  }
  return total;
}
async function closure(name, from = root, seen = new Map()) {
  let dir = join(from, 'node_modules', name);
  try {
    await stat(dir);
  } catch {
    dir = join(root, 'node_modules', name);
  }
  if (seen.has(dir)) return seen;
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  seen.set(dir, await dirSize(dir));
  for (const dep of Object.keys(manifest.dependencies ?? {})) await closure(dep, dir, seen);
  return seen;
}
const sumKb = (m) => round([...m.values()].reduce((a, b) => a + b, 0) / 1024, 0);
const clientFiles = (await dirSize(join(root, 'dist', 'src'))) + (await dirSize(join(root, 'dist', 'generated')));
const ours = await closure('openapi-fetch');
const theirs = await closure('@hopx-ai/sdk');
const sizes = {
  sandboxProcsRuntimeDeps: { packages: ours.size, kb: sumKb(ours) },
  sandboxProcsOwnFilesKb: round(clientFiles / 1024, 0),
  hopxSdkWithDeps: { packages: theirs.size, kb: sumKb(theirs) },
};

server.kill();

// --- figures and ratios ---------------------------------------------------------------------------
const results = contenders.map((c) => ({ operation: c.operation, client: c.client, sequential: summary(c.seq), concurrent: summary(c.conc) }));
const find = (operation, client) => results.find((r) => r.operation === operation && r.client === client);
const ratios = [...new Set(results.map((r) => r.operation))].map((operation) => {
  const raw = find(operation, 'raw fetch');
  const ours = find(operation, 'sandbox-procs');
  const theirs = find(operation, '@hopx-ai/sdk');
  return {
    operation,
    facadeOverRawMedianSequential: round(ours.sequential.medianMs / raw.sequential.medianMs),
    facadeOverRawCallsPerSecondConcurrent: round(ours.concurrent.callsPerSecond / raw.concurrent.callsPerSecond),
    ...(theirs
      ? {
          facadeOverSdkCallsPerSecondSequential: round(ours.sequential.callsPerSecond / theirs.sequential.callsPerSecond),
          facadeOverSdkCallsPerSecondConcurrent: round(ours.concurrent.callsPerSecond / theirs.concurrent.callsPerSecond),
        }
      : {}),
  };
});
const report = {
  date: new Date().toISOString(),
  machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  command: 'npm run bench',
  settings: { calls: CALLS, concurrency: CONCURRENCY, batch: BATCH, warmup: WARMUP },
  results,
  ratios,
  prismStartup: prism,
  emulator,
  wallTimes: walls,
  installedSize: sizes,
};
await writeFile(flags.out, `${JSON.stringify(report, null, 2)}\n`);

const pad = (s, n) => String(s).padEnd(n);
const lines = [
  `sandbox-procs benchmark, ${report.date.slice(0, 10)}, ${report.machine.cores} cores (${report.machine.cpu}), Node ${process.version}`,
  `${CALLS} calls per contender after ${WARMUP} warm-up calls, interleaved in batches of ${BATCH}; concurrent: ${CONCURRENCY} in flight`,
  '',
  `${pad('operation', 22)}${pad('client', 15)}${pad('seq median', 12)}${pad('seq p99', 10)}${pad('seq calls/s', 13)}${pad('conc median', 13)}${pad('conc p99', 10)}conc calls/s`,
  ...results.map(
    (r) =>
      `${pad(r.operation, 22)}${pad(r.client, 15)}${pad(`${r.sequential.medianMs.toFixed(3)} ms`, 12)}${pad(`${r.sequential.p99Ms.toFixed(2)} ms`, 10)}${pad(r.sequential.callsPerSecond, 13)}${pad(`${r.concurrent.medianMs.toFixed(2)} ms`, 13)}${pad(`${r.concurrent.p99Ms.toFixed(2)} ms`, 10)}${r.concurrent.callsPerSecond}`,
  ),
  '',
  `${pad('operation', 22)}${pad('facade/raw median (seq)', 25)}${pad('facade/raw calls/s (conc)', 27)}facade/SDK calls/s (seq, conc)`,
  ...ratios.map(
    (r) =>
      `${pad(r.operation, 22)}${pad(r.facadeOverRawMedianSequential, 25)}${pad(r.facadeOverRawCallsPerSecondConcurrent, 27)}${r.facadeOverSdkCallsPerSecondSequential === undefined ? '-' : `${r.facadeOverSdkCallsPerSecondSequential}x, ${r.facadeOverSdkCallsPerSecondConcurrent}x`}`,
  ),
  '',
  `Prism start-up (spawn to first answer): tensorlake ${prism.tensorlakeMs} ms, hopx ${prism.hopxMs} ms, both in parallel ${prism.bothInParallelMs} ms`,
  ...emulatorLines(emulator),
  walls ? `wall time: check (prism) ${walls.checkPrismS} s, check (emulator) ${walls.checkEmulatorS} s, contract test suite ${walls.contractSuiteS} s` : 'wall times: skipped (--quick)',
  `installed: sandbox-procs client = own files ${sizes.sandboxProcsOwnFilesKb} KB + runtime deps ${sizes.sandboxProcsRuntimeDeps.kb} KB in ${sizes.sandboxProcsRuntimeDeps.packages} packages; @hopx-ai/sdk with deps ${sizes.hopxSdkWithDeps.kb} KB in ${sizes.hopxSdkWithDeps.packages} packages`,
  `figures written to ${flags.out}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
