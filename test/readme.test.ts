// The documentation's programs run, and print what they say. Every file in examples/
// and every ```ts / ```js block of README.md and docs/ is a program: it compiles,
// strictly, against the package's own types, and runs in a Node process of its own
// against fresh local emulators, with what it prints checked line by line. A block
// that copies an example file must equal it. Examples read the sandbox's URL and key
// from the environment, the names `emulate` prints, and refuse to run without them.
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import {
  compileExamples,
  documentationBlocks,
  exampleFiles,
  root,
  runExample,
  settingsRead,
  type CompiledExamples,
  type ExampleFile,
} from './support/readme-examples.js';

/** What each example file prints, one pattern per line, or the test that runs it (the official SDKs need a control plane and their own setup). */
const EXAMPLES: Record<string, { lines: RegExp[] } | { runBy: string }> = {
  'examples/tensorlake-client.ts': { lines: [/^\[stdout\] GO$/, /^exited 0$/, /^one$/, /^two$/, /^exit 3$/, /^true 9$/] },
  'examples/tensorlake-managed.ts': { lines: [/^true clock 1$/] },
  'examples/hopx-client.ts': { lines: [/^true 42 0$/, /^\[ 'sleeper proc_\w+' \]$/, /^killed$/] },
  'examples/neutral.ts': {
    lines: [
      /^tensorlake \d+ sleep \[ '60' \] running \d{4}-\d\d-\d\dT[\d:.]+Z$/,
      /^1$/,
      /^hopx proc_\w+ sleep \[ '60' \] running \d{4}-\d\d-\d\dT[\d:.]+Z$/,
      /^1$/,
    ],
  },
  'examples/flows.ts': { lines: [/^tensorlake exited 3$/, /^true 1$/, /^hopx killed 3$/, /^true 1$/] },
  'examples/emulator.ts': { lines: [/^hello$/] },
  'examples/connections.ts': { lines: [/^killed$/] },
  'examples/retries.ts': { lines: [/^0$/] },
  'examples/hopx-official-sdk.mjs': { runBy: 'test/control-plane-hopx.test.ts' },
  'examples/tensorlake-official-sdk.mjs': { runBy: 'test/control-plane-tensorlake.test.ts' },
  'examples/sandbox.ts': { runBy: 'test/sandbox-handle.test.ts' },
};

/** What each program block that is no copy prints, found by a text only that block holds. */
const BLOCKS: { marker: string; lines: RegExp[] }[] = [{ marker: '// first.js', lines: [/^hello from a sandbox$/] }];

const examples = await exampleFiles();
const blocks = await documentationBlocks();
const ownBlocks = blocks.filter((b) => b.copies === undefined);
/** What compiles here: the TypeScript examples and the blocks that are no copy, in that order; all run here but those a control-plane test runs. */
const programs: Array<{ name: string; lang: 'ts' | 'js'; source: string; lines: RegExp[]; runHere: boolean }> = [
  ...examples
    .filter((e) => e.path.endsWith('.ts'))
    .map((e) => ({ name: e.path, lang: 'ts' as const, source: e.source, lines: expectedOf(e), runHere: !(EXAMPLES[e.path] && 'runBy' in EXAMPLES[e.path]!) })),
  ...ownBlocks.map((b) => ({ name: b.where, lang: b.lang, source: b.source, lines: BLOCKS.find((e) => b.source.includes(e.marker))?.lines ?? [], runHere: true })),
];
let compiled: CompiledExamples;

function expectedOf(example: ExampleFile): RegExp[] {
  const expected = EXAMPLES[example.path];
  return expected && 'lines' in expected ? expected.lines : [];
}

/** Every client the program makes gets its URL from the environment, with no fallback, or from an emulator it starts. */
function connectsWhereTold(source: string): boolean {
  const count = (pattern: RegExp) => source.match(pattern)?.length ?? 0;
  const clients = count(/create(?:Tensorlake|Hopx)Client\(\{/g);
  // `settings.X` counts only where `settings` is what env(...) returned, which exits when a variable is missing.
  const told = count(/create(?:Tensorlake|Hopx)Client\(\{\s*baseUrl: (?:env\('(?:TENSORLAKE|HOPX)_SANDBOX_URL'\)|settings\.(?:TENSORLAKE|HOPX)_SANDBOX_URL\b|emulator\.baseUrl)/g);
  const settingsFromEnv = !/\bsettings\.[A-Z]/.test(source) || /\bconst settings = env\(/.test(source);
  return clients === told && settingsFromEnv && !/process\.env\.\w+\s*(?:\?\?|\|\|)/.test(source) && !/\bsandbox: '/.test(source);
}

beforeAll(async () => {
  compiled = await compileExamples(programs);
}, 120_000);
afterAll(() => compiled?.remove());

describe('the documentation programs', () => {
  it('cover each use: a typed client per provider, the neutral interface, flows, the emulator, both official SDKs', () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(examples.map((e) => e.path).sort());
    expect(examples.filter((e) => e.source.includes('createTensorlakeClient(')).length).toBeGreaterThanOrEqual(1);
    expect(examples.filter((e) => e.source.includes('createHopxClient(')).length).toBeGreaterThanOrEqual(1);
    expect(examples.filter((e) => e.source.includes('SandboxProcesses')).length).toBeGreaterThanOrEqual(1);
    expect(blocks.length).toBeGreaterThan(ownBlocks.length);
  });

  it('a block that names an example file is that file, to the byte', () => {
    for (const block of blocks.filter((b) => b.copies !== undefined)) {
      const example = examples.find((e) => e.path === block.copies);
      expect(example, `${block.where} copies ${block.copies}, which does not exist`).toBeDefined();
      expect(block.source, `${block.where} differs from ${block.copies}`).toBe(example!.source);
    }
  });

  it('every other block has exactly one expectation', () => {
    for (const block of ownBlocks) expect(BLOCKS.filter((e) => block.source.includes(e.marker)).length, block.where).toBe(1);
    for (const { marker } of BLOCKS) expect(ownBlocks.filter((b) => b.source.includes(marker)).length, marker).toBe(1);
  });

  it('all compile against the package', () => {
    expect(compiled.problems).toEqual([]);
  });

  it('point every client at the sandbox the environment names, with no fallback to a real host', () => {
    for (const program of [...examples, ...ownBlocks]) expect(connectsWhereTold(program.source), 'path' in program ? program.path : program.where).toBe(true);
    expect(connectsWhereTold("createHopxClient({ sandbox: 'abc', apiKey: '' })")).toBe(false);
    expect(connectsWhereTold("createHopxClient({ baseUrl: process.env.HOPX_SANDBOX_URL ?? 'https://api.hopx.dev', apiKey: '' })")).toBe(false);
    expect(connectsWhereTold("const baseURL = process.env.HOPX_BASE_URL ?? 'https://api.hopx.dev';")).toBe(false);
    expect(connectsWhereTold("const settings = { HOPX_SANDBOX_URL: 'https://api.hopx.dev' };\ncreateHopxClient({ baseUrl: settings.HOPX_SANDBOX_URL, apiKey: '' })")).toBe(false);
  });

  it.each(programs.map((program, i) => [program.name, i + 1] as const).filter(([, n]) => programs[n - 1]!.runHere))('%s runs against the emulators and prints what it should', async (name, n) => {
    const expected = programs[n - 1]!.lines;
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
      expect(lines.length, `${name} printed:\n${run.stdout}`).toBe(expected.length);
      lines.forEach((line, i) => expect(line).toMatch(expected[i]!));
    } finally {
      await Promise.all([tensorlake.stop(), hopx.stop()]);
    }
  }, 90_000);

  it.each(Object.entries(EXAMPLES).filter(([, e]) => 'runBy' in e))('%s is run by its control-plane test', async (path, expected) => {
    const test = await readFile(join(root, (expected as { runBy: string }).runBy), 'utf8');
    expect(test).toContain(`'${path}'`);
  });
});

describe('an example without its settings', () => {
  let server: Server;
  let requests = 0;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  // Run from the clone, where the Tensorlake SDK is not installed: its example must still refuse, before importing it.
  const refusing = examples.filter((e) => settingsRead(e.source).length > 0);
  const cases = refusing.flatMap((e) => settingsRead(e.source).map((missing) => [e.path, missing] as const));

  it('is every example that reads a setting', () => {
    expect(refusing.map((e) => e.path)).toEqual(expect.arrayContaining(['examples/neutral.ts', 'examples/hopx-official-sdk.mjs', 'examples/tensorlake-official-sdk.mjs']));
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  it.each(cases)('%s without %s exits non-zero, names it, and sends nothing', async (path, missing) => {
    const example = examples.find((e) => e.path === path)!;
    const given = Object.fromEntries(settingsRead(example.source).filter((name) => name !== missing).map((name) => [name, /URL$/.test(name) ? url : 'a-local-key']));
    const entry = path.endsWith('.ts') ? compiled.entry(programs.findIndex((p) => p.name === path) + 1) : join(root, path);
    const before = requests;
    const run = await runExample(entry, given, 30_000, root);
    expect(run.code, run.stdout + run.stderr).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stderr).toContain(`${missing} is not set`);
    // The command that prints the missing variable: its own provider's emulator.
    expect(run.stderr).toMatch(new RegExp(`${missing} is not set \\(\`npx sandbox-procs emulate --provider ${missing.startsWith('HOPX_') ? 'hopx' : 'tensorlake'}[ \`]`));
    expect(run.stdout).toBe('');
    expect(requests - before).toBe(0);
  }, 40_000);
});

describe('the example runner', () => {
  it('would catch an example that misuses the API', async () => {
    const wrong = [
      "import { createTensorlakeClient } from 'sandbox-procs';",
      "const client = createTensorlakeClient({ apiKey: 'k', sandbox: 's' });",
      'await client.killProcess({ pid: 42 });',
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
      'await client.sendSignal(2147483646, 15);',
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
