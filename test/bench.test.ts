// The benchmark runs (on a tiny count) and reports every figure it promises.
// It asserts no timing: performance is read from `npm run bench`, not tested.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

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
        results: Array<{ operation: string; client: string; sequential: { calls: number; medianMs: number; p99Ms: number; callsPerSecond: number }; concurrent: { calls: number } }>;
        ratios: Array<Record<string, number | string>>;
        prismStartup: Record<string, number>;
        emulator: Record<
          'tensorlake' | 'hopx',
          {
            starts: { starts: number; perSecond: number };
            listWith100Running: { running: number; calls: number; medianMs: number; p99Ms: number };
            soak: { peakRssMiB: number; rssAfterMiB: number };
          }
        >;
        installedSize: Record<string, unknown>;
        machine: { cores: number };
      };
      expect(new Set(report.results.map((r) => r.client))).toEqual(new Set(['raw fetch', 'sandbox-procs', '@hopx-ai/sdk']));
      for (const r of report.results) {
        expect(r.sequential.calls).toBe(20);
        expect(r.concurrent.calls).toBe(20);
        expect(r.sequential.medianMs).toBeGreaterThan(0);
        expect(r.sequential.p99Ms).toBeGreaterThanOrEqual(r.sequential.medianMs);
      }
      expect(report.ratios.filter((r) => 'facadeOverSdkCallsPerSecondSequential' in r).map((r) => r.operation)).toEqual(['hopx kill (SDK form)', 'hopx list']);
      expect(Object.keys(report.prismStartup)).toEqual(['tensorlakeMs', 'hopxMs', 'bothInParallelMs']);
      for (const provider of ['tensorlake', 'hopx'] as const) {
        const e = report.emulator[provider];
        expect(e.starts.starts).toBe(20);
        expect(e.starts.perSecond).toBeGreaterThan(0);
        expect(e.listWith100Running).toMatchObject({ running: 10, calls: 10 });
        expect(e.listWith100Running.p99Ms).toBeGreaterThanOrEqual(e.listWith100Running.medianMs);
        expect(e.soak.peakRssMiB).toBeGreaterThan(0);
        expect(e.soak.peakRssMiB).toBeGreaterThanOrEqual(e.soak.rssAfterMiB);
      }
      expect(Object.keys(report.installedSize)).toEqual(['sandboxProcsRuntimeDeps', 'sandboxProcsOwnFilesKb', 'hopxSdkWithDeps']);
      expect(report.machine.cores).toBeGreaterThan(0);
      expect(stdout).toMatch(/facade\/raw median \(seq\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
