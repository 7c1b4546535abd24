// The README's TypeScript examples compile, strictly, against the package's own
// types, and run: each in a Node process of its own, against fresh local
// emulators, with what it prints checked line by line. Examples read the
// sandbox's URL and key from the environment (TENSORLAKE_SANDBOX_URL, ...), which
// is the convention the README states; here those point at the emulators.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { compileExamples, readmeBlocks, runExample, type CompiledExamples } from './support/readme-examples.js';

/**
 * What each example prints, one pattern per line, found by a text only that
 * example holds. Every block needs one: an example nobody runs cannot slip in.
 */
const EXPECTED: { marker: string; lines: RegExp[] }[] = [
  {
    marker: "print(input().upper())",
    lines: [/^\[stdout\] GO$/, /^exited 0$/, /^one$/, /^two$/, /^exit 3$/, /^true 9$/],
  },
  { marker: "name: 'clock'", lines: [/^true clock 1$/] },
  { marker: "print(6 * 7)", lines: [/^true 42 0$/, /^\[ 'sleeper proc_\w+' \]$/, /^killed$/] },
  {
    marker: 'async function stopAll',
    lines: [
      /^tensorlake \d+ sleep \[ '60' \] running \d{4}-\d\d-\d\dT[\d:.]+Z$/,
      /^1$/,
      /^hopx proc_\w+ sleep \[ '60' \] running \d{4}-\d\d-\d\dT[\d:.]+Z$/,
      /^1$/,
    ],
  },
  { marker: 'runWithTimeout(processes', lines: [/^tensorlake exited 3$/, /^true 1$/, /^hopx killed 3$/, /^true 1$/] },
  { marker: "startEmulator('tensorlake'", lines: [/^hello$/] },
  { marker: 'idleSocketTimeoutMs: 10_000', lines: [] },
  { marker: 'RateLimitError', lines: [] },
];

/** Every client the block makes gets its URL from the environment (the README's convention), or from an emulator it starts. */
function connectsWhereTold(block: string): boolean {
  if (block.includes('startEmulator(')) return true;
  const count = (text: string) => block.split(text).length - 1;
  return (
    count('createTensorlakeClient({') === count('baseUrl: process.env.TENSORLAKE_SANDBOX_URL ??') &&
    count('createHopxClient({') === count('baseUrl: process.env.HOPX_SANDBOX_URL ??') &&
    !/\bsandbox: '/.test(block)
  );
}

const blocks = await readmeBlocks();
let compiled: CompiledExamples;

beforeAll(async () => {
  compiled = await compileExamples(blocks);
}, 120_000);
afterAll(() => compiled?.remove());

describe('README examples', () => {
  it('has a typed example per provider and one for the neutral interface, and they all compile', () => {
    expect(blocks.filter((b) => b.includes('createTensorlakeClient(')).length).toBeGreaterThanOrEqual(1);
    expect(blocks.filter((b) => b.includes('createHopxClient(')).length).toBeGreaterThanOrEqual(1);
    expect(blocks.filter((b) => b.includes('SandboxProcesses')).length).toBeGreaterThanOrEqual(1);
    expect(compiled.problems).toEqual([]);
  });

  it('point every client at the sandbox the environment names, so that none reaches a real host here', () => {
    for (const block of blocks) expect(connectsWhereTold(block), block).toBe(true);
    expect(connectsWhereTold("createHopxClient({ sandbox: 'abc', apiKey: '' })")).toBe(false);
  });

  it('each have exactly one expectation', () => {
    for (const block of blocks) expect(EXPECTED.filter((e) => block.includes(e.marker)).length, block).toBe(1);
    for (const { marker } of EXPECTED) expect(blocks.filter((b) => b.includes(marker)).length, marker).toBe(1);
  });

  it.each(blocks.map((block, i) => [i + 1, block] as const))('example %i runs against the emulators and prints what it should', async (n, block) => {
    const expected = EXPECTED.find((e) => block.includes(e.marker));
    expect(expected, `no expectation for example ${n}`).toBeDefined();
    // Never run an example that would go to the real host it names.
    expect(connectsWhereTold(block), block).toBe(true);
    const [tensorlake, hopx] = await Promise.all([startEmulator('tensorlake'), startEmulator('hopx')]);
    try {
      const run = await runExample(compiled.entry(n), {
        TENSORLAKE_SANDBOX_URL: tensorlake.baseUrl,
        TENSORLAKE_API_KEY: tensorlake.token,
        HOPX_SANDBOX_URL: hopx.baseUrl,
        HOPX_AUTH_TOKEN: hopx.token,
      });
      expect({ code: run.code, stderr: run.stderr }, run.stdout).toEqual({ code: 0, stderr: '' });
      const lines = run.stdout.split('\n').slice(0, -1);
      expect(lines.length, run.stdout).toBe(expected!.lines.length);
      lines.forEach((line, i) => expect(line).toMatch(expected!.lines[i]!));
    } finally {
      await Promise.all([tensorlake.stop(), hopx.stop()]);
    }
  }, 90_000);
});

describe('the example runner', () => {
  it('would catch an example that misuses the API', async () => {
    const wrong = [
      "import { createTensorlakeClient } from 'sandbox-procs';",
      "const client = createTensorlakeClient({ apiKey: 'k', sandbox: 's' });",
      "await client.killProcess({ pid: 42 });",
      "await client.startProcess({ args: ['no command'] });",
    ].join('\n');
    const { problems, remove } = await compileExamples([wrong]);
    await remove();
    expect(problems.join('\n')).toMatch(/example-1\.ts:3: Argument of type '\{ pid: number; \}' is not assignable to parameter of type 'string \| number'/);
    expect(problems.join('\n')).toMatch(/example-1\.ts:4: .*command/);
  }, 120_000);

  it('would catch an example that compiles but fails when run, and shows what it printed', async () => {
    const failing = [
      "import { createTensorlakeClient } from 'sandbox-procs';",
      "const client = createTensorlakeClient({ apiKey: 'k', baseUrl: process.env.TENSORLAKE_SANDBOX_URL ?? '' });",
      "console.log('before');",
      "await client.sendSignal(2147483646, 15);",
    ].join('\n');
    const examples = await compileExamples([failing]);
    const tensorlake = await startEmulator('tensorlake');
    try {
      expect(examples.problems).toEqual([]);
      const run = await runExample(examples.entry(1), { TENSORLAKE_SANDBOX_URL: tensorlake.baseUrl });
      expect(run.code).not.toBe(0);
      expect(run.stdout).toBe('before\n');
      expect(run.stderr).toMatch(/AuthenticationError/);
    } finally {
      await Promise.all([tensorlake.stop(), examples.remove()]);
    }
  }, 120_000);
});
