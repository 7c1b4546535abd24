// docs/api/ is generated (npm run docs:api) and committed; this is its staleness
// check, as generate:check is the generated types'. It also shows that the
// reference's validation refuses an exported symbol without a doc comment.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderApiDocs, staleApiDocs } from '../scripts/api-docs.mjs';

describe('API reference (docs/api)', () => {
  it('is what `npm run docs:api` writes today, and every public symbol has a doc comment', async () => {
    const { problems, stale } = (await staleApiDocs()) as { problems: string[]; stale: string[] };
    expect(problems, 'TypeDoc warnings (an undocumented export, a broken link, an unknown tag)').toEqual([]);
    expect(stale, 'stale files in docs/api/: run `npm run docs:api` and commit the result').toEqual([]);
  }, 120_000);

  it('fails on an exported function without a doc comment, and writes nothing', async () => {
    const out = await mkdtemp(join(tmpdir(), 'sandbox-procs-api-fixture-'));
    try {
      const problems = (await renderApiDocs(out, {
        entryPoints: ['test/fixtures/api-docs-undocumented.ts'],
        tsconfig: 'test/fixtures/api-docs-tsconfig.json',
      })) as string[];
      expect(problems.some((problem) => /undocumentedOnPurpose.*does not have any documentation/.test(problem))).toBe(true);
      expect(await readdir(out)).toEqual([]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);
});
