// The benchmark runs (on a tiny count) and reports every figure it promises.
// It asserts no timing: performance is read from `npm run bench`, not tested.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';

const confinable = !('unavailable' in findBubblewrap());

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

interface Latency {
  calls: number;
  medianMs: number;
  p99Ms: number;
  callsPerSecond: number;
  lost: number;
}

interface Throughput {
  runs: number;
  expectedBytes: number;
  receivedBytes: Array<number | null>;
  allReceived: boolean;
  endLost: number;
  medianMBps: number;
  minMBps: number;
}

interface Result {
  operation: string;
  client: string;
  sequential: { calls: number; medianMs: number; p99Ms: number; callsPerSecond: number };
  concurrent: { calls: number };
  newConnectionsPer: { calls: number; connections: number };
}

describe('npm run bench (smoke)', () => {
  it('measures every contender and writes the promised figures', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-bench-'));
    try {
      const out = join(dir, 'results.json');
      const { stdout } = await run(process.execPath, [join(root, 'bench/bench.mjs'), '--calls', '20', '--batch', '10', '--warmup', '2', '--concurrency', '4', '--quick', '--out', out], {
        cwd: root,
        maxBuffer: 16 * 1024 * 1024,
      });
      const report = JSON.parse(await readFile(out, 'utf8')) as {
        results: Result[];
        ratios: Array<Record<string, number | string>>;
        https: { results: Result[]; ratios: Array<Record<string, number | string>> } | { skipped: string };
        prismStartup: Record<string, number>;
        emulator: Record<
          'tensorlake' | 'hopx',
          {
            starts: { starts: number; perSecond: number };
            startToExitSeen: { runs: number; p50Ms: number; p99Ms: number; startP50Ms: number };
            startToExitSeenConfined: { runs: number; p50Ms: number; p99Ms: number; startP50Ms: number } | null;
            listWith100Running: { running: number; calls: number; medianMs: number; p99Ms: number };
            soak: { peakRssMiB: number; rssAfterMiB: number };
          }
        > & { sdkCycle?: { runs: number; unconfinedP50Ms: number; confinedP50Ms: number; ratio: number } };
        connect: {
          connectById: Record<'hopx' | 'tensorlake', { calls: number; medianMs: number; p99Ms: number }>;
          renewal: {
            tokenTtlSeconds: number;
            renewalsDuringRun: number;
            results: Array<{ client: string; sequential: { calls: number }; concurrent: { calls: number } }>;
            renewingOverFixedMedianSequential: number;
            renewingOverFixedMedianConcurrent: number;
          };
        };
        terminal: {
          roundTrip: { method: string; gapMs: number; results: Array<{ provider: string; isolation: string; client: string; backToBack: Latency; spaced: Latency }> };
          stream: { bytes: number; results: Array<Throughput & { isolation: string; client: string; complete: boolean }> };
          terminal: { bytes: number; results: Array<Throughput & { provider: string; isolation: string; client: string }> };
          ratios: Array<{ isolation: string; echoP50OursOverSdk: number; echoSpacedP50OursOverSdk: number; streamMBpsOursOverSdk: number | null; terminalMBpsOursOverSdk: number | null }>;
        };
        installedSize: Record<string, unknown>;
        machine: { cores: number };
      };
      // HTTPS runs wherever openssl can make a certificate, and says so where it cannot.
      const runs = 'results' in report.https ? [report, report.https] : [report];
      if (!('results' in report.https)) expect(report.https.skipped).toMatch(/openssl/);
      for (const { results, ratios } of runs) {
        expect(new Set(results.map((r) => r.client))).toEqual(new Set(['node:http floor', 'raw fetch', 'sandbox-procs', 'sandbox-procs on fetch', '@hopx-ai/sdk']));
        for (const r of results) {
          expect(r.sequential.calls).toBe(20);
          expect(r.concurrent.calls).toBe(20);
          expect(r.sequential.medianMs).toBeGreaterThan(0);
          expect(r.sequential.p99Ms).toBeGreaterThanOrEqual(r.sequential.medianMs);
          expect(r.newConnectionsPer.calls).toBe(20);
          expect(r.newConnectionsPer.connections).toBeGreaterThanOrEqual(0);
        }
        // The node:http floor keeps its connections: what the others are measured against.
        expect(results.filter((r) => r.client === 'node:http floor').map((r) => r.newConnectionsPer.connections)).toEqual([0, 0, 0, 0, 0, 0]);
        expect(ratios.filter((r) => 'facadeOverSdkCallsPerSecondSequential' in r).map((r) => r.operation)).toEqual(['hopx kill (docs form)', 'hopx kill (SDK form)', 'hopx list']);
        for (const r of ratios) expect(r.facadeOverFloorMedianSequential).toBeGreaterThan(0);
      }
      expect(Object.keys(report.prismStartup)).toEqual(['tensorlakeMs', 'hopxMs', 'bothInParallelMs']);
      for (const provider of ['tensorlake', 'hopx'] as const) {
        const e = report.emulator[provider];
        expect(e.starts.starts).toBe(20);
        expect(e.starts.perSecond).toBeGreaterThan(0);
        expect(e.startToExitSeen.runs).toBe(10);
        expect(e.startToExitSeen.p99Ms).toBeGreaterThanOrEqual(e.startToExitSeen.p50Ms);
        expect(e.startToExitSeen.startP50Ms).toBeGreaterThan(0);
        // Confined figures wherever bubblewrap can build a sandbox (CI installs it).
        if (confinable) expect(e.startToExitSeenConfined).toMatchObject({ runs: 10 });
        expect(e.listWith100Running).toMatchObject({ running: 10, calls: 10 });
        expect(e.listWith100Running.p99Ms).toBeGreaterThanOrEqual(e.listWith100Running.medianMs);
        expect(e.soak.peakRssMiB).toBeGreaterThan(0);
        expect(e.soak.peakRssMiB).toBeGreaterThanOrEqual(e.soak.rssAfterMiB);
      }
      if (confinable) expect(report.emulator.sdkCycle).toMatchObject({ runs: 5, ratio: expect.any(Number) });
      // Connect by ID at both control planes; a client that renews its token against one built from a fixed token, call for call.
      for (const provider of ['hopx', 'tensorlake'] as const) {
        expect(report.connect.connectById[provider].calls).toBe(10);
        expect(report.connect.connectById[provider].p99Ms).toBeGreaterThanOrEqual(report.connect.connectById[provider].medianMs);
      }
      expect(report.connect.renewal.results.map((r) => [r.client, r.sequential.calls, r.concurrent.calls])).toEqual([
        ['connected by ID, renewing', 20, 20],
        ['fixed URL + token', 20, 20],
      ]);
      expect(report.connect.renewal.tokenTtlSeconds).toBe(2);
      expect(report.connect.renewal.renewalsDuringRun).toBeGreaterThanOrEqual(0);
      expect(report.connect.renewal.renewingOverFixedMedianSequential).toBeGreaterThan(0);
      expect(report.connect.renewal.renewingOverFixedMedianConcurrent).toBeGreaterThan(0);
      expect(stdout).toMatch(/^connect by ID \(emulated control planes\): hopx median/m);
      expect(stdout).toMatch(/^per call, connected by ID with renewal .* target within 5%$/m);
      // Terminals: the echo round trip and streamed MB/s for both clients on the same HopX emulator (confined too where bwrap works), ours on Tensorlake's PTY.
      const isolations = confinable ? ['unconfined', 'confined'] : ['unconfined'];
      const hopxContenders = isolations.flatMap((isolation) => [`hopx ${isolation} sandbox-procs`, `hopx ${isolation} @hopx-ai/sdk`]);
      const { roundTrip, stream, terminal, ratios } = report.terminal;
      expect(roundTrip.results.map((r) => `${r.provider} ${r.isolation} ${r.client}`)).toEqual([...hopxContenders, 'tensorlake unconfined sandbox-procs']);
      for (const r of roundTrip.results) {
        // Lost echoes are counted apart (the SDK drops messages), so timed and lost make up the count.
        expect(r.backToBack.calls + r.backToBack.lost).toBe(40);
        expect(r.spaced.calls + r.spaced.lost).toBe(20);
        for (const figures of [r.backToBack, r.spaced]) {
          expect(figures.medianMs).toBeGreaterThan(0);
          expect(figures.p99Ms).toBeGreaterThanOrEqual(figures.medianMs);
        }
      }
      // Ours never loses an echo: each write is answered.
      for (const r of roundTrip.results.filter((x) => x.client === 'sandbox-procs')) expect([r.backToBack.lost, r.spaced.lost]).toEqual([0, 0]);
      expect(stream.bytes).toBe(2_000_000);
      expect(stream.results.map((r) => `hopx ${r.isolation} ${r.client}`)).toEqual(hopxContenders);
      expect(terminal.results.map((r) => `${r.provider} ${r.isolation} ${r.client}`)).toEqual([...hopxContenders, 'tensorlake unconfined sandbox-procs']);
      for (const r of [...stream.results, ...terminal.results]) {
        expect(r).toMatchObject({ runs: 1, expectedBytes: 2_000_000, medianMBps: expect.any(Number), minMBps: expect.any(Number), endLost: expect.any(Number) });
        expect(r.receivedBytes).toHaveLength(1);
        expect(r.allReceived).toBe(r.receivedBytes.every((bytes) => bytes === 2_000_000));
      }
      // A terminal holds its program while the reader is behind: our client gets every byte.
      for (const r of terminal.results.filter((x) => x.client === 'sandbox-procs')) expect(r.receivedBytes).toEqual([2_000_000]);
      expect(ratios.map((r) => r.isolation)).toEqual(isolations);
      for (const r of ratios) for (const value of Object.values(r).slice(1)) expect(value === null || typeof value === 'number').toBe(true);
      expect(stdout).toMatch(/^terminal echo round trip .* target p50 under 2 ms$/m);
      expect(stdout).toMatch(/^streamed output, 2 MB: .* target at least the SDK's throughput$/m);
      expect(Object.keys(report.installedSize)).toEqual(['sandboxProcsRuntimeDeps', 'sandboxProcsOwnFilesKb', 'hopxSdkWithDeps']);
      expect(report.machine.cores).toBeGreaterThan(0);
      expect(stdout).toMatch(/facade\/floor \(seq\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
