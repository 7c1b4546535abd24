// The package as users get it: the client entry's import graph, publint and
// attw (and proof that both catch real mistakes), and a consumer project that
// installs the packed tarball, compiles against it strictly and runs it.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrism, type PrismServer } from '../src/prism.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd, maxBuffer: 64 * 1024 * 1024 });

/** Every module the file loads, following relative imports; bare specifiers are collected, not followed. */
async function importGraph(entry: string): Promise<{ files: string[]; packages: string[] }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = async (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const source = await readFile(file, 'utf8');
    for (const [, specifier] of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(['"]([^'"]+)['"]\)/g)) {
      if (!specifier) continue;
      if (specifier.startsWith('.')) await visit(resolve(dirname(file), specifier));
      else if (!specifier.startsWith('node:')) packages.add(specifier);
    }
  };
  await visit(entry);
  return { files: [...files].map((f) => f.slice(root.length + 1)), packages: [...packages] };
}

describe('the client entry', () => {
  it('loads only the client: openapi-fetch, never Prism, the contract engine, the emulator or the CLI', async () => {
    const { files, packages } = await importGraph(join(root, 'dist/src/index.js'));
    expect(packages).toEqual(['openapi-fetch']);
    expect(files.filter((f) => /\/(emulator|contract)\/|\/(prism|cli|bin|specs)\.js$/.test(f))).toEqual([]);
    expect(files).toContain('dist/src/providers/hopx/client.js');
  });

  it('declares openapi-fetch as its only dependency; what only the CLI needs is an optional peer', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(Object.keys(manifest.dependencies!)).toEqual(['openapi-fetch']);
    expect(Object.keys(manifest.peerDependencies!).sort()).toEqual(['@stoplight/prism-cli', 'ajv', 'yaml']);
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
    expect(children.filter(([, d]) => d.version === undefined).map(([name]) => name).sort()).toEqual(['@stoplight/prism-cli', 'ajv', 'yaml']);
    await expect(readFile(join(project, 'node_modules/@stoplight/prism-cli/package.json'))).rejects.toThrow();
    const installed = JSON.parse(await readFile(join(project, 'node_modules/sandbox-procs/package.json'), 'utf8')) as { version: string };
    expect(installed.version).toMatch(/^\d+\.\d+\.\d+/);
  });

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
});
