// Connect by sandbox ID, in `npm run bench`: how long a connect takes (the control
// plane read and the first agent token, at both providers' emulated control planes),
// and what renewal costs a call. A client connected by ID to a HopX control plane
// whose agent tokens live `ttlSeconds` (so that it renews them during the run) is
// measured against a client built from a fixed URL and token, at a twin control
// plane whose tokens outlive the run, with the two interleaved in one run; the ratio
// of their medians is the per-call cost of renewal (target: within 5%). The control
// planes run in this process, as the clients do: two server processes would differ
// by more than renewal costs (measured: 10-18% between twin children on 2 busy
// cores, against 1% for the two clients on one server), and so would hide it.
import { startEmulator } from '../dist/src/emulator/index.js';
import { connectHopxSandbox, connectTensorlakeSandbox, createHopxClient, createHopxControlClient, createTensorlakeControlClient } from '../dist/src/index.js';
import { concurrent, sequential, summary } from './clients.mjs';

const round = (n, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

async function connectLatency(runs, connect) {
  const latencies = [];
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const client = await connect();
    latencies.push(performance.now() - t);
    await client.close();
  }
  return summary({ latencies, ms: performance.now() - started });
}

export async function benchConnect({ quick, calls, batch, warmup, concurrency, ttlSeconds = 2, log }) {
  // Unconfined: what is measured is the client, not the sandbox.
  const common = { controlPlane: true, isolation: 'none', handleSignals: false };
  const [renewing, fixed, tensorlake] = await Promise.all([
    startEmulator('hopx', { ...common, tokenTtlSeconds: ttlSeconds }),
    startEmulator('hopx', common),
    startEmulator('tensorlake', common),
  ]);
  try {
    const hopxControl = (plane) => createHopxControlClient({ apiKey: plane.token, baseUrl: plane.baseUrl });
    const [renewingControl, fixedControl] = [hopxControl(renewing), hopxControl(fixed)];
    const tensorlakeControl = createTensorlakeControlClient({ apiKey: tensorlake.token, baseUrl: tensorlake.baseUrl });
    const [a, b] = await Promise.all([renewingControl.createSandbox({ template_name: 'code-interpreter' }), fixedControl.createSandbox({ template_name: 'code-interpreter' })]);
    const { sandbox_id: tensorlakeId } = await tensorlakeControl.createSandbox({ resources: { cpus: 1, memory_mb: 512 } });

    const connects = quick ? 10 : 200;
    log(`connect by ID: ${connects} connects per provider (control plane read + agent token or route)...`);
    const connectById = {
      hopx: await connectLatency(connects, () => connectHopxSandbox({ apiKey: fixed.token, sandboxId: b.sandbox_id, controlPlaneUrl: fixed.baseUrl })),
      tensorlake: await connectLatency(connects, () => connectTensorlakeSandbox({ apiKey: tensorlake.token, sandboxId: tensorlakeId, controlPlaneUrl: tensorlake.baseUrl, proxyUrl: tensorlake.baseUrl })),
    };

    const byId = await connectHopxSandbox({ apiKey: renewing.token, sandboxId: a.sandbox_id, controlPlaneUrl: renewing.baseUrl });
    const fixedToken = (await fixedControl.refreshSandboxToken(b.sandbox_id)).auth_token;
    const plain = createHopxClient({ apiKey: fixedToken, baseUrl: b.public_host });
    const contenders = [
      { client: 'connected by ID, renewing', call: () => byId.listProcesses() },
      { client: 'fixed URL + token', call: () => plain.listProcesses() },
    ].map((c) => ({ ...c, seq: { latencies: [], ms: 0 }, conc: { latencies: [], ms: 0 } }));
    for (const c of contenders) for (let i = 0; i < warmup; i++) await c.call();
    const renewalsBefore = renewing.tokenRefreshes(a.sandbox_id);
    const runStarted = performance.now();
    // Each round's time ratio: a load shift on the shared machine spoils a round, not the whole comparison.
    const perRound = { sequential: [], concurrent: [] };
    const median = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
    for (const mode of ['sequential', 'concurrent']) {
      // Short sequential rounds, so that load shifts on a shared machine fall on both; concurrent ones long enough to keep `concurrency` in flight.
      const roundSize = mode === 'sequential' ? Math.min(batch, 50) : Math.max(batch, concurrency * 4);
      const rounds = Math.ceil(calls / roundSize);
      log(`renewal cost, ${mode}: ${calls} hopx list calls per client in ${rounds} interleaved rounds, agent tokens living ${ttlSeconds} s...`);
      for (let r = 0; r < rounds; r++) {
        const count = Math.min(roundSize, calls - r * roundSize);
        // Alternating who goes first, so that neither always follows the other.
        const order = r % 2 === 0 ? contenders : [...contenders].reverse();
        const roundMs = [];
        for (const c of order) {
          const before = mode === 'sequential' ? c.seq.ms : c.conc.ms;
          await (mode === 'sequential' ? sequential(c, count) : concurrent(c, count, concurrency));
          roundMs.push([c, (mode === 'sequential' ? c.seq.ms : c.conc.ms) - before]);
        }
        const time = (c) => roundMs.find(([x]) => x === c)[1];
        perRound[mode].push(time(contenders[0]) / time(contenders[1]));
      }
    }
    const runSeconds = (performance.now() - runStarted) / 1000;
    const [renewed, base] = contenders.map((c) => ({ client: c.client, sequential: summary(c.seq), concurrent: summary(c.conc) }));
    const renewal = {
      tokenTtlSeconds: ttlSeconds,
      runSeconds: round(runSeconds, 1),
      // Counted at the control plane: the renewals the connected client made while measured.
      renewalsDuringRun: renewing.tokenRefreshes(a.sandbox_id) - renewalsBefore,
      results: [renewed, base],
      renewingOverFixedMedianSequential: round(renewed.sequential.medianMs / base.sequential.medianMs, 3),
      renewingOverFixedMedianConcurrent: round(renewed.concurrent.medianMs / base.concurrent.medianMs, 3),
      medianRoundTimeRatioSequential: round(median(perRound.sequential), 3),
      medianRoundTimeRatioConcurrent: round(median(perRound.concurrent), 3),
    };
    await Promise.all([byId.close(), plain.close()]);
    await Promise.all([renewingControl.deleteSandbox(a.sandbox_id), fixedControl.deleteSandbox(b.sandbox_id), tensorlakeControl.deleteSandbox(tensorlakeId)]);
    await Promise.all([renewingControl.close(), fixedControl.close(), tensorlakeControl.close()]);
    return { connectById, renewal };
  } finally {
    await Promise.all([renewing.stop(), fixed.stop(), tensorlake.stop()]);
  }
}

export function connectLines({ connectById, renewal }) {
  const ms = (s) => `median ${s.medianMs.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms`;
  const [renewed, base] = renewal.results;
  return [
    `connect by ID (emulated control planes): hopx ${ms(connectById.hopx)} (sandbox read + agent token, at once); tensorlake ${ms(connectById.tensorlake)} (sandbox read)`,
    `per call, connected by ID with renewal (tokens of ${renewal.tokenTtlSeconds} s, ${renewal.renewalsDuringRun} renewals in ${renewal.runSeconds} s) vs a fixed URL + token: ` +
      `seq median ${renewed.sequential.medianMs.toFixed(3)} vs ${base.sequential.medianMs.toFixed(3)} ms (ratio ${renewal.renewingOverFixedMedianSequential}), ` +
      `conc median ${renewed.concurrent.medianMs.toFixed(2)} vs ${base.concurrent.medianMs.toFixed(2)} ms (ratio ${renewal.renewingOverFixedMedianConcurrent}); ` +
      `median round-time ratio seq ${renewal.medianRoundTimeRatioSequential}, conc ${renewal.medianRoundTimeRatioConcurrent}; target within 5%`,
  ];
}
