// The package as users get it: the client entry's import graph, publint and
// attw (and proof that both catch real mistakes), and a consumer project that
// installs the packed tarball, compiles against it strictly and runs it.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { createHopxClient } from '../src/index.js';
import { startPrism, type PrismServer } from '../src/prism.js';
import { waitFor } from './support/processes.js';
import { expand, readmeWorkflow, type WorkflowStep } from './support/readme-workflow.js';
import { sandboxesAt } from './support/control-planes.js';


const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd, maxBuffer: 64 * 1024 * 1024 });

/** A command's exit code and output, whatever the code. */
function outcome(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(file, args, { ...options, maxBuffer: 64 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

/**
 * Every module the file loads, following relative imports; bare specifiers are collected, not followed:
 * `packages` those imported statically, `onDemand` those only a dynamic import() loads (on first use).
 */
async function importGraph(entry: string): Promise<{ files: string[]; packages: string[]; onDemand: string[] }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  const onDemand = new Set<string>();
  const visit = async (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const source = await readFile(file, 'utf8');
    for (const [, imported, loaded] of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(['"]([^'"]+)['"]\)/g)) {
      // Static imports and dynamic import()s alike: a module loaded on demand is still loaded.
      const specifier = imported ?? loaded;
      if (!specifier) continue;
      if (specifier.startsWith('.')) await visit(resolve(dirname(file), specifier));
      else if (!specifier.startsWith('node:')) (imported ? packages : onDemand).add(specifier);
    }
  };
  await visit(entry);
  return { files: [...files].map((f) => f.slice(root.length + 1)), packages: [...packages], onDemand: [...onDemand].filter((p) => !packages.has(p)) };
}

describe('the client entry', () => {
  it('loads only the client: openapi-fetch, never Prism, the contract engine, the emulator or the CLI', async () => {
    const { files, packages, onDemand } = await importGraph(join(root, 'dist/src/index.js'));
    expect(packages).toEqual(['openapi-fetch']);
    // WebSocket sessions load their optional peer on first use, not with the client.
    expect(onDemand).toEqual(['ws']);
    // Emulators and scenarios live beside each provider's client now: the registry and those folders stay out too.
    expect(files.filter((f) => /\/(emulator|contract)\/|\/(prism|cli|bin|specs|registry|contract|control-contract)\.js$/.test(f))).toEqual([]);
    expect(files).toContain('dist/src/providers/hopx/client.js');
  });

  it('the emulator entry finds providers through the registry and loads no contract engine, Prism or optional peer', async () => {
    const { files, packages, onDemand } = await importGraph(join(root, 'dist/src/emulator/index.js'));
    // openapi-fetch comes with the contract rows the registry can load; no optional peer does.
    expect(packages.filter((p) => p !== 'openapi-fetch')).toEqual([]);
    // WebSocket and terminal sessions load theirs on the first session, not with the emulator.
    expect(onDemand.sort()).toEqual(['@lydell/node-pty', 'ws']);
    expect(files).toContain('dist/src/registry.js');
    expect(files).toContain('dist/src/providers/hopx/emulator/agent.js');
    expect(files).toContain('dist/src/providers/tensorlake/emulator/control-plane.js');
    expect(files.filter((f) => /\/contract\/(run|validate|drift|record|routes|html-report)\.js$|\/(prism|cli|bin|specs)\.js$/.test(f))).toEqual([]);
  });

  it('declares openapi-fetch as its only dependency; what only the CLI, the emulators or streaming sessions need is an optional peer', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(Object.keys(manifest.dependencies!)).toEqual(['openapi-fetch']);
    expect(Object.keys(manifest.peerDependencies!).sort()).toEqual(['@lydell/node-pty', '@stoplight/prism-cli', 'ajv', 'ws', 'yaml']);
    for (const peer of Object.keys(manifest.peerDependencies!)) expect(manifest.peerDependenciesMeta![peer]).toEqual({ optional: true });
  });
});

describe('package lint', () => {
  it('publint finds nothing in the package, and catches a broken one', async () => {
    expect((await publint({ pkgDir: root, strict: true })).messages).toEqual([]);
    const broken = await publint({ pkgDir: join(root, 'test/fixtures/broken-package'), strict: true });
    expect(broken.messages.map((m) => m.code)).toContain('FILE_DOES_NOT_EXIST');
  });

  it('attw (are the types wrong) passes the package as ESM-only, and catches types that lie', async () => {
    const attw = (dir: string) =>
      run('npx', ['attw', '--pack', '.', '--profile', 'esm-only', '--format', 'json'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
      );
    const good = await attw(root);
    expect(good.code).toBe(0);
    const bad = await attw(join(root, 'test/fixtures/broken-package'));
    expect(bad.code).toBe(1);
    expect(Object.keys((JSON.parse(bad.out) as { problems: Record<string, unknown> }).problems)).toContain('FalseCJS');
  }, 120_000);
});

describe('a consumer project that installs the tarball', () => {
  let project: string;
  let tarball: string;
  const prisms: PrismServer[] = [];

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'sandbox-procs-consumer-'));
    const packed = await npm(['pack', '--json', '--pack-destination', project], root);
    tarball = join(project, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    await npm(['install', tarball], project);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(prisms.map((p) => p.stop()));
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('installs openapi-fetch as the only runtime dependency of the client', async () => {
    const { stdout } = await npm(['ls', '--omit=dev', '--all', '--json'], project);
    const tree = JSON.parse(stdout) as { dependencies: Record<string, { dependencies?: Record<string, { version?: string }> }> };
    expect(Object.keys(tree.dependencies)).toEqual(['sandbox-procs']);
    // npm lists the CLI's optional peers as "UNMET OPTIONAL": named, not installed.
    const children = Object.entries(tree.dependencies['sandbox-procs']!.dependencies ?? {});
    expect(children.filter(([, d]) => d.version !== undefined).map(([name]) => name)).toEqual(['openapi-fetch']);
    expect(children.filter(([, d]) => d.version === undefined).map(([name]) => name).sort()).toEqual(['@lydell/node-pty', '@stoplight/prism-cli', 'ajv', 'ws', 'yaml']);
    await expect(readFile(join(project, 'node_modules/@stoplight/prism-cli/package.json'))).rejects.toThrow();
    const installed = JSON.parse(await readFile(join(project, 'node_modules/sandbox-procs/package.json'), 'utf8')) as { version: string };
    expect(installed.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  // Before any peer is installed: what needs none runs, what needs some names exactly those.
  it('runs the installed CLI without its optional peers: help, version and emulate work; drift and check name what they need', async () => {
    const bin = join(project, 'node_modules/.bin/sandbox-procs');
    const cli = (args: string[]) => outcome(bin, args, { cwd: project, env: { ...process.env, NO_COLOR: '1' } });
    for (const args of [['--help'], ['--version'], ['help'], ['help', 'check'], ['emulate', '--help'], ['drift', '--help'], ['check', '--help']]) {
      const result = await cli(args);
      expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: '' });
      expect(result.stdout).toMatch(/^sandbox-procs|^\d+\.\d+\.\d+\n$/);
    }

    const drift = await cli(['drift']);
    expect(drift.code).toBe(2);
    expect(drift.stderr).toBe(
      'error: sandbox-procs drift needs ajv, yaml and ws, optional peer dependencies that are not installed with the package (missing: ajv, yaml, ws); ' +
        'install them with: npm install --save-dev ajv yaml ws\n',
    );
    const check = await cli(['check']);
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(/^error: sandbox-procs check needs @stoplight\/prism-cli, ajv and yaml, .*\(missing: @stoplight\/prism-cli, ajv, yaml\); install them with: npm install --save-dev @stoplight\/prism-cli@~5\.14\.2 ajv yaml\n$/);
    const onEmulators = await cli(['check', '--target', 'emulator']);
    expect(onEmulators.code).toBe(2);
    expect(onEmulators.stderr).toMatch(/^error: sandbox-procs check --target emulator needs ajv, yaml, ws and @lydell\/node-pty, .*\(missing: ajv, yaml, ws, @lydell\/node-pty\)/);

    const emulator = spawn(bin, ['emulate', '--provider', 'hopx'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(emulator, 'exit');
    let output = '';
    emulator.stdout.on('data', (c: Buffer) => (output += c));
    emulator.stderr.on('data', (c: Buffer) => (output += c));
    try {
      expect(await waitFor(() => /token: emu_\w+\n/.test(output) || emulator.exitCode !== null, 20_000)).toBe(true);
      const baseUrl = /listening on (http:\S+)/.exec(output)?.[1];
      const token = /token: (emu_\w+)/.exec(output)?.[1];
      expect({ baseUrl, token, output }).toMatchObject({ baseUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), token: expect.any(String) });
      expect(await createHopxClient({ apiKey: token!, baseUrl: baseUrl! }).listProcesses()).toEqual([]);
      // It still serves everything else, and says up front what its sessions need.
      expect(output).toMatch(/^warning: streamed execution and terminals \(WebSocket sessions\) need the optional peers ws and @lydell\/node-pty; without ws and @lydell\/node-pty .*npm install --save-dev ws @lydell\/node-pty$/m);
    } finally {
      emulator.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    }
  }, 60_000);

  it('without Prism: check on the emulators names node-pty until it is there, then runs (terminals included), and check with Prism names only what is missing', async () => {
    await npm(['install', '--save-dev', 'ajv@^8', 'yaml@^2', 'ws@^8'], project);
    const bin = join(project, 'node_modules/.bin/sandbox-procs');
    const env = { ...process.env, NO_COLOR: '1' };
    const withoutPty = await outcome(bin, ['check', '--target', 'emulator', '--provider', 'hopx'], { cwd: project, env });
    expect(withoutPty.code).toBe(2);
    expect(withoutPty.stderr).toMatch(/needs ajv, yaml, ws and @lydell\/node-pty, .*\(missing: @lydell\/node-pty\); install them with: npm install --save-dev ajv yaml ws @lydell\/node-pty\n$/);
    await npm(['install', '--save-dev', '@lydell/node-pty@^1'], project);
    const onEmulators = await outcome(bin, ['check', '--target', 'emulator', '--provider', 'hopx'], { cwd: project, env });
    expect(onEmulators.stdout).toMatch(/^\d+ passed, 0 failed/m);
    expect(onEmulators.code).toBe(0);
    const withPrism = await outcome(bin, ['check', '--target', 'prism'], { cwd: project, env });
    expect(withPrism.code).toBe(2);
    expect(withPrism.stderr).toMatch(/^error: sandbox-procs check --target prism needs @stoplight\/prism-cli, ajv and yaml, .*\(missing: @stoplight\/prism-cli\); install them with: npm install --save-dev @stoplight\/prism-cli@~5\.14\.2 ajv yaml\n$/);
  }, 240_000);

  it('compiles a strict TypeScript program against it and runs it against Prism mocks of the installed specs', async () => {
    await npm(['install', '--save-dev', 'typescript@5.9.3', '@types/node@^20', '@stoplight/prism-cli@~5.14.2', 'ajv@^8', 'yaml@^2'], project);
    await cp(join(root, 'test/fixtures/consumer'), project, { recursive: true });
    await run(join(project, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: project });

    const specs = join(project, 'node_modules/sandbox-procs/specs');
    const [tensorlake, hopx] = await Promise.all([startPrism(join(specs, 'tensorlake.yaml')), startPrism(join(specs, 'hopx.yaml'))]);
    prisms.push(tensorlake!, hopx!);
    const { stdout } = await run(process.execPath, [join(project, 'out/consumer.js')], {
      cwd: project,
      env: { ...process.env, TENSORLAKE_URL: tensorlake!.baseUrl, HOPX_URL: hopx!.baseUrl },
    });
    expect(JSON.parse(stdout)).toEqual({ pid: 42, killed: 'killed', typedError: 'NotFoundError 404 NOT_FOUND', running: ['42', 'proc_abc123'] });
  }, 240_000);

  it('runs the installed CLI: check passes, --help and --version answer', async () => {
    const bin = join(project, 'node_modules/.bin/sandbox-procs');
    const check = await run(bin, ['check'], { cwd: project, env: { ...process.env, NO_COLOR: '1' } });
    expect(check.stdout).toMatch(/^\d+ passed, 0 failed/m);
    expect((await run(bin, ['--version'], { cwd: project })).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await run(bin, ['drift', '--help'], { cwd: project })).stdout).toMatch(/--token-env VAR/);
  }, 120_000);

  // Each matrix entry in an empty folder of its own, as each job starts on a fresh runner;
  // the `uses:` steps (checkout, setup-node, upload-artifact) are GitHub's, not ours.
  // The only secret is each provider's API key; the runner's environment points drift at
  // the emulators' control planes, with the variables `emulate --control-plane` exports.
  describe('the README\'s "Drift in CI" workflow, against both emulators\' control planes', () => {
    const controlPlanes = {} as Record<'tensorlake' | 'hopx', RunningEmulator>;
    const workspaces: string[] = [];
    beforeAll(async () => {
      const [tensorlake, hopx] = await Promise.all([startEmulator('tensorlake', { controlPlane: true }), startEmulator('hopx', { controlPlane: true })]);
      Object.assign(controlPlanes, { tensorlake, hopx });
    });
    afterAll(async () => {
      await Promise.all(Object.values(controlPlanes).map((c) => c.stop()));
      await Promise.all(workspaces.map((w) => rm(w, { recursive: true, force: true })));
    });
    const secrets = () => ({ TENSORLAKE_API_KEY: controlPlanes.tensorlake.token, HOPX_API_KEY: controlPlanes.hopx.token });
    /** Where the control planes are (no key among them: the key comes from the secret only). */
    const runnerEnv = (): NodeJS.ProcessEnv => {
      const { TENSORLAKE_API_KEY: _t, ...tensorlake } = controlPlanes.tensorlake.env;
      const { HOPX_API_KEY: _h, ...hopx } = controlPlanes.hopx.env;
      return { ...process.env, ...tensorlake, ...hopx, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_prefer_offline: 'true' };
    };
    const scriptOf = (step: WorkflowStep, matrix: Record<string, string>, count: () => void) =>
      // The package is not published yet: the tarball stands in for it, and only for it.
      expand(step.run!, { matrix, secrets: secrets() }).replace(/^(npm install\b.*?\s)sandbox-procs(?=\s|$)/m, (_, head: string) => {
        count();
        return `${head}${tarball}`;
      });
    const envOf = (step: WorkflowStep, matrix: Record<string, string>) => {
      const env = runnerEnv();
      for (const [name, value] of Object.entries(step.env ?? {})) env[name] = expand(value, { matrix, secrets: secrets() });
      return env;
    };

    it('creates, checks and deletes a sandbox per provider with only the API key; no drift, both reports, nothing left', async () => {
      const workflow = await readmeWorkflow(join(root, 'README.md'));
      expect(workflow.matrix.map((entry) => entry.provider)).toEqual(['tensorlake', 'hopx']);
      // Installing a committed tarball, as the README says to until the first release, needs the repository checked out first.
      expect(workflow.steps[0]?.uses).toMatch(/^actions\/checkout@/);
      // One secret per provider, and it is the API key.
      expect([...JSON.stringify(workflow).matchAll(/secrets(?:\.\w+|\[matrix\.(\w+)\])/g)].map((m) => m[0])).toEqual(['secrets[matrix.key]']);
      for (const matrix of workflow.matrix) {
        const provider = matrix.provider as 'tensorlake' | 'hopx';
        const workspace = await mkdtemp(join(tmpdir(), 'sandbox-procs-ci-'));
        workspaces.push(workspace);
        let installs = 0;
        for (const step of workflow.steps.filter((s) => s.run !== undefined)) {
          // GitHub's default shell for `run:` on Linux.
          const result = await outcome('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', scriptOf(step, matrix, () => installs++)], { cwd: workspace, env: envOf(step, matrix) });
          expect({ provider, step: step.name ?? step.run, code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ provider, step: step.name ?? step.run, code: 0, stderr: '' });
        }
        expect(installs).toBe(1);
        // What the upload step's path 'drift-*.*' picks up.
        expect((await readdir(workspace)).filter((f) => /^drift-.*\..*$/.test(f)).sort()).toEqual([`drift-${provider}.json`, `drift-${provider}.xml`]);
        const report = JSON.parse(await readFile(join(workspace, `drift-${provider}.json`), 'utf8')) as { provider: string; summary: { drift: number; checks: number }; sandbox?: unknown };
        expect(report).toMatchObject({ provider, summary: { drift: 0 }, sandbox: { controlPlane: controlPlanes[provider].baseUrl, created: true, deleted: true } });
        expect(report.summary.checks).toBeGreaterThan(0);
        expect(await sandboxesAt(provider, controlPlanes[provider])).toEqual([]);
        await expect(readFile(join(workspace, 'node_modules/@stoplight/prism-cli/package.json'))).rejects.toThrow();
      }
    }, 300_000);

    // A cancelled job: the runner signals the step's whole process group (SIGINT, then SIGTERM).
    it.each(['tensorlake', 'hopx'] as const)('%s: a job cancelled mid-check deletes its sandbox before it exits', async (provider) => {
      const workflow = await readmeWorkflow(join(root, 'README.md'));
      const matrix = workflow.matrix.find((entry) => entry.provider === provider)!;
      const [install, check] = workflow.steps.filter((s) => s.run !== undefined);
      const workspace = await mkdtemp(join(tmpdir(), 'sandbox-procs-ci-'));
      workspaces.push(workspace);
      const installed = await outcome('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', scriptOf(install!, matrix, () => undefined)], { cwd: workspace, env: envOf(install!, matrix) });
      expect(installed.code, installed.stderr).toBe(0);
      const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', scriptOf(check!, matrix, () => undefined)], { cwd: workspace, env: envOf(check!, matrix), detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = once(child, 'close');
      expect(await waitFor(() => /\d+ checks done/.test(stderr), 60_000), stderr).toBe(true);
      // The group may be gone before the second signal: the delete can be that quick.
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, signal);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
        }
      };
      signalGroup('SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 100));
      signalGroup('SIGTERM');
      const [code] = (await exited) as [number | null];
      expect(code, stderr).not.toBe(0);
      expect(stderr).toMatch(/Deleted throwaway sandbox \S+/);
      expect(await sandboxesAt(provider, controlPlanes[provider])).toEqual([]);
      expect(await readdir(workspace)).not.toContain(`drift-${provider}.json`);
    }, 180_000);
  });
});
