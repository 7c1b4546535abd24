#!/usr/bin/env node
// npm run bench: what sandbox-procs costs its users, next to raw fetch (the
// floor) and to the official @hopx-ai/sdk, measured in one run with the
// contenders interleaved so that machine noise falls on all of them alike.
// Prints a table and writes the figures as JSON. Asserts nothing.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { benchClients, clientLines } from './clients.mjs';
import { startPrism } from '../dist/src/prism.js';
import { specPath } from '../dist/src/specs.js';
import { benchEmulator, emulatorLines } from './emulator.mjs';
import { benchConnect, connectLines } from './connect.mjs';
import { benchTerminal, terminalLines } from './terminal.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const { values: flags } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '64' },
    batch: { type: 'string', default: '250' },
    warmup: { type: 'string', default: '200' },
    // Streamed output per run (MB), through runCodeStream and through a terminal.
    'stream-mb': { type: 'string', default: '64' },
    quick: { type: 'boolean', default: false },
    // Ignored by git: a bench run leaves the work tree clean unless --out says otherwise.
    out: { type: 'string', default: join(root, 'bench', 'results', 'latest.json') },
  },
});
const CALLS = Number(flags.calls);
const CONCURRENCY = Number(flags.concurrency);
const BATCH = Math.min(Number(flags.batch), CALLS);
const WARMUP = Number(flags.warmup);
const log = (text) => process.stderr.write(`${text}\n`);
const round = (n, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

// --- the clients, over HTTP and over HTTPS (a self-signed certificate made now) ---------------------
const settings = { calls: CALLS, batch: BATCH, warmup: WARMUP, concurrency: CONCURRENCY, connectionCalls: Math.min(500, CALLS), log };
const http = await benchClients({ scheme: 'http', ...settings });
let https = null;
let httpsSkipped = null;
const tls = await selfSignedCertificate();
if (tls) {
  // Our own loopback server's certificate; for this process only, and only now.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  try {
    https = await benchClients({ scheme: 'https', tls, ...settings });
  } finally {
    delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    await rm(tls.dir, { recursive: true, force: true });
  }
} else {
  httpsSkipped = 'openssl is not installed: no certificate for the HTTPS run';
  log(`https: skipped (${httpsSkipped})`);
}

async function selfSignedCertificate() {
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-bench-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  try {
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    return { dir, cert, key };
  } catch {
    await rm(dir, { recursive: true, force: true });
    return null;
  }
}

// --- connect by sandbox ID: its latency, and what token renewal costs a call -----------------------
const connect = await benchConnect({ quick: flags.quick, calls: CALLS, batch: BATCH, warmup: WARMUP, concurrency: CONCURRENCY, log });

// --- Prism start-up, the check and the contract suite ----------------------------------------
async function prismStartup(provider) {
  const t = performance.now();
  const prism = await startPrism(specPath(provider));
  const ms = performance.now() - t;
  await prism.stop();
  return round(ms, 0);
}
const failedWalls = [];
async function wall(command, args) {
  const t = performance.now();
  try {
    await run(command, args, { cwd: root, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    // A failing check or suite is timed to its failure and named, rather than losing every figure measured before it.
    failedWalls.push(args.join(' '));
    log(`${args.join(' ')} failed (exit ${error.code}); its wall time is to the failure`);
  }
  return round((performance.now() - t) / 1000, 1);
}

log('Prism start-up (spawn to first answer)...');
const prism = { tensorlakeMs: await prismStartup('tensorlake'), hopxMs: await prismStartup('hopx') };
const t = performance.now();
await Promise.all([prismStartup('tensorlake'), prismStartup('hopx')]);
prism.bothInParallelMs = round(performance.now() - t, 0);

// --- the emulators: starts, list latency under load, RSS through a soak --------------------------
const emulator = await benchEmulator({ quick: flags.quick, log });

// --- terminals and streamed output: echo round trip, MB/s, beside the official HopX SDK ----------
const terminal = await benchTerminal({ quick: flags.quick, streamMegabytes: Number(flags['stream-mb']), log });

let walls = null;
if (!flags.quick) {
  log('wall time of the check (prism and emulator targets) and of the contract test suite...');
  walls = {
    checkPrismS: await wall(process.execPath, ['dist/src/bin.js', 'check']),
    checkEmulatorS: await wall(process.execPath, ['dist/src/bin.js', 'check', '--target', 'emulator']),
    contractSuiteS: await wall(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/contract.test.ts']),
    failed: failedWalls,
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

// --- figures ---------------------------------------------------------------------------------------
const report = {
  date: new Date().toISOString(),
  machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  command: 'npm run bench',
  settings: { calls: CALLS, concurrency: CONCURRENCY, batch: BATCH, warmup: WARMUP },
  results: http.results,
  ratios: http.ratios,
  https: https ?? { skipped: httpsSkipped },
  connect,
  prismStartup: prism,
  emulator,
  terminal,
  wallTimes: walls,
  installedSize: sizes,
};
await mkdir(dirname(flags.out), { recursive: true });
await writeFile(flags.out, `${JSON.stringify(report, null, 2)}\n`);

const lines = [
  `sandbox-procs benchmark, ${report.date.slice(0, 10)}, ${report.machine.cores} cores (${report.machine.cpu}), Node ${process.version}`,
  `${CALLS} calls per contender after ${WARMUP} warm-up calls, interleaved in batches of ${BATCH}; concurrent: ${CONCURRENCY} in flight`,
  '',
  ...clientLines(http),
  '',
  ...(https ? clientLines(https) : [`HTTPS: skipped (${httpsSkipped})`]),
  '',
  ...connectLines(connect),
  '',
  `Prism start-up (spawn to first answer): tensorlake ${prism.tensorlakeMs} ms, hopx ${prism.hopxMs} ms, both in parallel ${prism.bothInParallelMs} ms`,
  ...emulatorLines(emulator),
  '',
  ...terminalLines(terminal),
  '',
  walls
    ? `wall time: check (prism) ${walls.checkPrismS} s, check (emulator) ${walls.checkEmulatorS} s, contract test suite ${walls.contractSuiteS} s${walls.failed.length ? ` (FAILED: ${walls.failed.join('; ')})` : ''}`
    : 'wall times: skipped (--quick)',
  `installed: sandbox-procs client = own files ${sizes.sandboxProcsOwnFilesKb} KB + runtime deps ${sizes.sandboxProcsRuntimeDeps.kb} KB in ${sizes.sandboxProcsRuntimeDeps.packages} packages; @hopx-ai/sdk with deps ${sizes.hopxSdkWithDeps.kb} KB in ${sizes.hopxSdkWithDeps.packages} packages`,
  `figures written to ${flags.out}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
