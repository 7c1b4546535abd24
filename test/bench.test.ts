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
      expect(Object.keys(report.installedSize)).toEqual(['sandboxProcsRuntimeDeps', 'sandboxProcsOwnFilesKb', 'hopxSdkWithDeps']);
      expect(report.machine.cores).toBeGreaterThan(0);
      expect(stdout).toMatch(/facade\/floor \(seq\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
