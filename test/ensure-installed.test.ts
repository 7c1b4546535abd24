// `npm run check` and `npm test` install what they need on a fresh clone, once:
// scripts/ensure-installed.mjs, run in a small project of its own (a local
// dependency, so that npm ci really installs without the network).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const project = mkdtempSync(join(tmpdir(), 'sandbox-procs-ensure-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

function run() {
  const result = spawnSync(process.execPath, [join(project, 'scripts', 'ensure-installed.mjs')], { cwd: project, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('scripts/ensure-installed.mjs', () => {
  it('runs npm ci when nothing is installed, then never again; stdout stays empty both times', () => {
    mkdirSync(join(project, 'scripts'));
    mkdirSync(join(project, 'dep'));
    copyFileSync(join(import.meta.dirname, '..', 'scripts', 'ensure-installed.mjs'), join(project, 'scripts', 'ensure-installed.mjs'));
    writeFileSync(join(project, 'dep', 'package.json'), JSON.stringify({ name: 'dep', version: '1.0.0' }));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'fresh', version: '1.0.0', dependencies: { dep: 'file:dep' } }));
    writeFileSync(
      join(project, 'package-lock.json'),
      JSON.stringify({
        name: 'fresh',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name: 'fresh', version: '1.0.0', dependencies: { dep: 'file:dep' } }, dep: { version: '1.0.0' }, 'node_modules/dep': { resolved: 'dep', link: true } },
      }),
    );

    const first = run();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('');
    expect(first.stderr).toContain('no node_modules yet; installing the locked dependencies once (npm ci)');
    expect(existsSync(join(project, 'node_modules', 'dep', 'package.json'))).toBe(true);

    const second = run();
    expect(second).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});
