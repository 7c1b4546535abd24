// generated/ must be exactly what the specs produce now.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { staleFiles } from '../scripts/generate.mjs';

const root = join(import.meta.dirname, '..');

describe('generated/', () => {
  it('is up to date with specs/ (run `npm run generate` after editing a spec)', async () => {
    expect(await staleFiles(root)).toEqual([]);
  });

  it('goes stale when a spec is edited without regenerating', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'sandbox-procs-gen-'));
    try {
      await cp(join(root, 'specs'), join(copy, 'specs'), { recursive: true });
      await cp(join(root, 'generated'), join(copy, 'generated'), { recursive: true });
      expect(await staleFiles(copy)).toEqual([]);
      const spec = join(copy, 'specs', 'hopx.yaml');
      await writeFile(spec, (await readFile(spec, 'utf8')).replace('minLength: 1', 'minLength: 2'));
      expect(await staleFiles(copy)).toEqual([join(copy, 'generated', 'hopx.operations.ts')]);
      await writeFile(spec, (await readFile(spec, 'utf8')).replace('description: Confirmation message', 'description: Changed'));
      expect((await staleFiles(copy)).sort()).toEqual([join(copy, 'generated', 'hopx.operations.ts'), join(copy, 'generated', 'hopx.ts')]);
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});
