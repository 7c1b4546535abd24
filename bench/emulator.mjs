// The emulator section of `npm run bench`: starts per second, list latency with
// 100 processes running, and the RSS of an emulator (in a process of its own,
// read from /proc) during and after a soak of over a gigabyte of output.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHost } from './host.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'emulator', 'index.js');
const MiB = 1024 * 1024;
const round = (n, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

async function host(provider, limits, isolation) {
  const { ready, stop } = await startHost(join(root, 'test', 'support', 'emulator-host.mjs'), [entry, provider, JSON.stringify(limits ?? {}), ...(isolation ? [isolation] : [])]);
  const { baseUrl, token, pid } = ready;
  const memory = () => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  };
  const call = async (path, json) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method: json === undefined ? 'GET' : 'POST',
      headers: { Authorization: `Bearer ${token}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) };
  };
  return { call, memory, stop, baseUrl, token };
}

const percentile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

const START = {
  tensorlake: (h, command, args) => h.call('/api/v1/processes', { command, args }).then((r) => r.status === 201),
  hopx: (h, command, args) => h.call('/commands/background', { command: [command, ...args].join(' ') }).then((r) => r.status === 200),
};
const LIST = { tensorlake: '/api/v1/processes', hopx: '/execute/processes' };

/** Starts of a process that exits at once, `concurrency` in flight. */
async function startsPerSecond(provider, count, concurrency) {
  const h = await host(provider, { maxRunning: 128 });
  try {
    let next = 0;
    let ok = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < count) if (await START[provider](h, 'true', [])) ok++;
      }),
    );
    return { starts: ok, perSecond: round((ok / (performance.now() - started)) * 1000) };
  } finally {
    await h.stop();
  }
}

/** List latency while `running` processes run (sleep). */
async function listLatency(provider, running, calls) {
  const h = await host(provider, { maxRunning: running + 8 });
  try {
    for (let i = 0; i < running; i++) if (!(await START[provider](h, 'sleep', ['120']))) throw new Error(`start ${i} failed`);
    const latencies = [];
    for (let i = 0; i < calls; i++) {
      const t = performance.now();
      const list = await h.call(LIST[provider]);
      latencies.push(performance.now() - t);
      if (list.body.processes.length < running) throw new Error('the list lost processes');
    }
    return { running, calls, medianMs: round(percentile(latencies, 0.5), 2), p99Ms: round(percentile(latencies, 0.99), 2) };
  } finally {
    await h.stop();
  }
}

/**
 * What a user waits between asking for a process that exits at once and knowing it
 * exited: the typed client's start, then waitForExit (its polls), on the neutral interface.
 * `startMs` is the start alone, so that p50Ms - startMs is what the wait adds.
 */
async function startToExitSeen(provider, runs, isolation) {
  const h = await host(provider, { maxRunning: 16 }, isolation);
  try {
    const { createHopxClient, createTensorlakeClient, waitForExit } = await import(join(root, 'dist', 'src', 'index.js'));
    const create = provider === 'hopx' ? createHopxClient : createTensorlakeClient;
    const processes = create({ apiKey: h.token, baseUrl: h.baseUrl }).processes;
    const seen = [];
    const starts = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const started = await processes.start({ command: 'true' });
      starts.push(performance.now() - t);
      const record = await waitForExit(processes, started.id, { timeoutMs: 10_000 });
      seen.push(performance.now() - t);
      if (record?.running !== false) throw new Error(`process ${started.id} not seen to exit`);
    }
    return { runs, p50Ms: round(percentile(seen, 0.5), 2), p99Ms: round(percentile(seen, 0.99), 2), startP50Ms: round(percentile(starts, 0.5), 2) };
  } finally {
    await h.stop();
  }
}

/** Processes that together print `bytes`, with and without newlines; RSS and list latency meanwhile; default limits. */
async function soak(provider, megabytes) {
  const h = await host(provider);
  try {
    const before = h.memory().rss;
    const each = Math.max(1, Math.floor(megabytes / 5));
    const lines = [
      `head -c ${each}M /dev/zero | tr '\\0' x`,
      `head -c ${each}M /dev/zero | tr '\\0' x`,
      `yes "$(head -c 99 /dev/zero | tr "\\0" y)" | head -c ${each}M`,
      `yes | head -c ${each}M`,
      `yes "$(head -c 16000 /dev/zero | tr "\\0" a)" | head -c ${each}M`,
    ];
    const t = performance.now();
    for (const line of lines) if (!(await START[provider](h, 'sh', ['-c', line]))) throw new Error('soak start failed');
    let slowestList = 0;
    for (;;) {
      const s = performance.now();
      const list = await h.call(LIST[provider]);
      slowestList = Math.max(slowestList, performance.now() - s);
      if (list.body.processes.length === lines.length && list.body.processes.every((p) => p.status !== 'running')) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const seconds = (performance.now() - t) / 1000;
    const { rss, peak } = h.memory();
    return {
      printedMb: each * lines.length,
      seconds: round(seconds),
      rssBeforeMiB: round(before / MiB),
      peakRssMiB: round(peak / MiB),
      rssAfterMiB: round(rss / MiB),
      slowestListMs: round(slowestList),
    };
  } finally {
    await h.stop();
  }
}

/**
 * The official HopX SDK's cycle against the control plane, as a user's test runs it:
 * Sandbox.create -> runCode (bash, so that both sides run the same interpreter) -> kill,
 * unconfined and confined interleaved in one run. p50 of each, and their ratio.
 */
async function sdkCycle(runs) {
  const { startEmulator } = await import(entry);
  const { Sandbox } = await import('@hopx-ai/sdk');
  const planes = { unconfined: await startEmulator('hopx', { controlPlane: true, isolation: 'none' }), confined: await startEmulator('hopx', { controlPlane: true, isolation: 'strict' }) };
  try {
    const times = { unconfined: [], confined: [] };
    for (let i = 0; i < runs + 3; i++) {
      for (const mode of ['unconfined', 'confined']) {
        const t = performance.now();
        const sandbox = await Sandbox.create({ template: 'code-interpreter', baseURL: planes[mode].baseUrl, apiKey: planes[mode].token });
        await sandbox.runCode('echo 1', { language: 'bash' });
        await sandbox.kill();
        if (i >= 3) times[mode].push(performance.now() - t);
      }
    }
    const unconfined = round(percentile(times.unconfined, 0.5), 1);
    const confined = round(percentile(times.confined, 0.5), 1);
    return { runs, unconfinedP50Ms: unconfined, confinedP50Ms: confined, ratio: round(confined / unconfined, 2) };
  } finally {
    await Promise.all(Object.values(planes).map((plane) => plane.stop()));
  }
}

export async function benchEmulator({ quick, log }) {
  const results = {};
  const { findBubblewrap } = await import(join(root, 'dist', 'src', 'emulator', 'confinement', 'bwrap.js'));
  const confinable = !('unavailable' in findBubblewrap());
  if (!confinable) log('emulator: no bubblewrap here, so no confined figures');
  for (const provider of ['tensorlake', 'hopx']) {
    log(`emulator (${provider}): starts per second, start -> exit seen, list latency with 100 running, soak...`);
    results[provider] = {
      starts: await startsPerSecond(provider, quick ? 20 : 300, 8),
      // Unconfined on request (the emulators confine by default): the base the confined figure is compared with.
      startToExitSeen: await startToExitSeen(provider, quick ? 10 : 200, 'none'),
      // The same, each process inside the sandbox's bubblewrap confinement (isolation strict), where the machine has it.
      startToExitSeenConfined: confinable ? await startToExitSeen(provider, quick ? 10 : 200, 'strict') : null,
      listWith100Running: await listLatency(provider, quick ? 10 : 100, quick ? 10 : 200),
      soak: await soak(provider, quick ? 20 : 1250),
    };
  }
  if (confinable) {
    log('emulator: the official HopX SDK cycle, unconfined and confined...');
    results.sdkCycle = await sdkCycle(quick ? 5 : 40);
  }
  return results;
}

export function emulatorLines(e) {
  const pad = (s, n) => String(s).padEnd(n);
  return [
    `${pad('emulator', 12)}${pad('starts/s', 10)}${pad('start -> exit seen p50 (start) unconfined | confined', 52)}${pad(`list median / p99 (${e.tensorlake.listWith100Running.running} running)`, 36)}soak: printed, time, RSS before / peak / after, slowest list`,
    ...['tensorlake', 'hopx'].map((p) => {
      const r = e[p];
      const confined = r.startToExitSeenConfined;
      const seen = `${r.startToExitSeen.p50Ms} ms (${r.startToExitSeen.startP50Ms} ms) | ${confined ? `${confined.p50Ms} ms (${confined.startP50Ms} ms), ${round(confined.p50Ms - r.startToExitSeen.p50Ms, 2)} ms more` : 'n/a'}`;
      return `${pad(p, 12)}${pad(r.starts.perSecond, 10)}${pad(seen, 52)}${pad(`${r.listWith100Running.medianMs} / ${r.listWith100Running.p99Ms} ms`, 36)}${r.soak.printedMb} MB, ${r.soak.seconds} s, ${r.soak.rssBeforeMiB} / ${r.soak.peakRssMiB} / ${r.soak.rssAfterMiB} MiB, ${r.soak.slowestListMs} ms`;
    }),
    ...(e.sdkCycle
      ? [`@hopx-ai/sdk create -> runCode -> kill p50: unconfined ${e.sdkCycle.unconfinedP50Ms} ms, confined ${e.sdkCycle.confinedP50Ms} ms (x${e.sdkCycle.ratio}, ${e.sdkCycle.runs} runs)`]
      : []),
  ];
}
