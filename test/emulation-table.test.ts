// docs/emulation.md is generated from the specs' x-emulated marks (npm run
// docs:emulation) and committed; this is its staleness check.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderTable, TABLE_FILE } from '../scripts/emulation-table.mjs';

describe('docs/emulation.md', () => {
  it('is what `npm run docs:emulation` writes from the specs today', async () => {
    expect(await readFile(TABLE_FILE, 'utf8'), 'stale: run `npm run docs:emulation` and commit the result').toBe(await renderTable());
  });

  it('lists the operations that are not emulated, and the ones that are', async () => {
    const table = await renderTable();
    expect(table).toMatch(/\| `GET \/files\/read` \| `files_read` \| no \(501\) \|/);
    expect(table).toMatch(/\| `DELETE \/execute\/kill` \| `kill_process` \| yes \|/);
  });
});
