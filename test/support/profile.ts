// The one knob for how big the test run is. CI (CI=true, as .ci/run and the release
// workflow set it) and `npm run test:full` run everything at full size; a plain local
// `npm test` runs the same tests on fewer random inputs and less output, in parallel,
// and leaves out the two suites that pack, install and benchmark the whole package
// and drift-bounds' costliest run.
// What the fast profile changed is said at the end of the run (summary-reporter.ts).

import { basename } from 'node:path';

export const FULL_ENV = 'SANDBOX_PROCS_TEST_FULL';

/** True for the full profile: CI (CI=true, or 1 as some CI services set it), or an explicit SANDBOX_PROCS_TEST_FULL=1. */
export const full = ['true', '1'].includes(process.env.CI ?? '') || process.env[FULL_ENV] === '1';

/** The share of random inputs the property-based tests run locally: 10,000 become 500. */
const PROPERTY_SHARE = 1 / 20;
/** The share of the soak's output volume printed locally (1 = over a gigabyte). */
export const SOAK_SCALE = full ? 1 : 1 / 10;

/** A property's run count: as written in the full profile, a twentieth (at least 10) in the fast one. */
export const runs = (fullCount: number): number => (full ? fullCount : Math.max(10, Math.ceil(fullCount * PROPERTY_SHARE)));

/**
 * Suites left out of the fast profile, with why: each packs or installs the whole
 * package, drives a browser, an official SDK or the documentation's whole programs, or spends
 * its time on resource bounds and signals (tens of seconds each here), and tests
 * what a change to the client's src/ rarely touches. CI runs them all; a suite
 * named on the command line runs in any profile.
 */
export const fullOnlySuites: Record<string, string> = {
  'test/package.test.ts': 'npm pack, publint, attw and a consumer install',
  'test/bench.test.ts': 'the bench smoke run',
  'test/html-report.test.ts': 'the HTML reports in headless Chromium',
  'test/readme.test.ts': 'the documentation\'s programs and examples/ run',
  'test/official-hopx-sdk.test.ts': 'the official HopX SDK',
  'test/official-hopx-sdk-sessions.test.ts': 'the official HopX SDK\'s streamed runs and terminal',
  'test/official-sdk-tensorlake.test.ts': 'the official Tensorlake SDK',
  'test/official-sdk-tensorlake-pty.test.ts': 'the official Tensorlake SDK\'s PTY sessions',
  'test/no-orphans.test.ts': 'orphan checks after signals and crashes',
  'test/emulator-terminal-bounds.test.ts': 'a gigabyte into terminals read slowly, and SIGKILL with an open terminal',
  'test/emulator-execute-stream-bounds.test.ts': 'a streamed run printing 86 MiB to a slow reader, the emulator\'s peak RSS measured in a process of its own',
  'test/client-terminal-memory.test.ts': "a gigabyte into terminals our client reads slowly, the client's peak RSS measured in a process of its own",
  'test/emulator-soak.test.ts': 'the emulator soak',
  'test/emulator-hostile.test.ts': 'hostile clients against the emulators',
  'test/drift-bounds.test.ts': 'drift against endless and silent servers',
  'test/drift-secrets.test.ts': 'drift secret redaction over random tokens',
  'test/confinement.test.ts': 'hostile programs in confined sandboxes (bubblewrap)',
  'test/confinement-network.test.ts': "confined sandboxes' network: the egress proxy, loopback canaries, allow_out / deny_out (bubblewrap)",
  'test/drift-verdicts.test.ts': "drift's kill-form verdicts against stand-in agents",
  'test/prism.test.ts': 'the Prism child process: start, failure, death with its owner',
  'test/api-docs.test.ts': 'the API reference regenerated with TypeDoc (docs/api staleness)',
};

/**
 * The full-only suites this run leaves out: none in the full profile, and none that
 * the command line names (`npx vitest run test/bench.test.ts` runs it in any profile).
 */
export const leftOutSuites: string[] = full
  ? []
  : Object.keys(fullOnlySuites).filter((suite) => !process.argv.slice(2).some((arg) => namesFile(arg, suite)));

/** `bench`, `bench.test` or `test/bench.test.ts` name test/bench.test.ts; `test` or `run` name no one file. */
function namesFile(arg: string, suite: string): boolean {
  return !arg.startsWith('-') && basename(arg) !== '' && basename(suite).startsWith(basename(arg));
}

/** What the fast profile ran smaller or left out, one phrase each, for the end of the run. */
export const reductions: string[] = full
  ? []
  : [
      `properties at ${runs(10_000).toLocaleString('en')} runs instead of 10,000 (every property run count at 1/${Math.round(1 / PROPERTY_SHARE)})`,
      ...(leftOutSuites.includes('test/emulator-soak.test.ts') ? [] : [`the emulator soak at 1/${Math.round(1 / SOAK_SCALE)} of its output`]),
      ...(leftOutSuites.includes('test/drift-bounds.test.ts') ? [] : ["drift-bounds' endless-SSE run skipped (test/drift-bounds.test.ts)"]),
      "the built CLI's Prism check of both providers and `npm run -s check` (test/cli.test.ts)",
      ...(leftOutSuites.length > 0 ? [`left out: ${leftOutSuites.map((suite) => `${fullOnlySuites[suite]} (${suite})`).join('; ')}`] : []),
    ];
