// The documentation holds together: every relative link and #anchor in the README,
// docs/, CONTRIBUTING.md, SECURITY.md and CHANGELOG.md resolves, the README stays
// short enough for a newcomer (under 350 lines), and its CI workflow says where it
// says `npm install sandbox-procs` that the package is not on the registry yet.
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deadLink, headingIds, linksIn } from './support/markdown-links.js';
import { WORKFLOW_HEADING } from './support/readme-workflow.js';

const root = join(import.meta.dirname, '..');
const docs = readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.md'))
  .map((file) => join('docs', file));
const pages = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md', 'CHANGELOG.md', ...docs];
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('the documentation', () => {
  it('has every page the README lists', () => {
    expect(pages.filter((page) => !existsSync(join(root, page)))).toEqual([]);
    expect(docs.length).toBeGreaterThanOrEqual(8);
  });

  it('has no dead relative link or anchor', () => {
    const links = pages.flatMap((page) => linksIn(root, page));
    expect(links.length).toBeGreaterThan(30);
    const dead = links.flatMap((link) => {
      const why = deadLink(root, link);
      return why ? [`${link.from}:${link.line}: ${link.target}: ${why}`] : [];
    });
    expect(dead).toEqual([]);
  });

  it('links every page under docs/ from the README (a folder of pages, such as the API reference, through its README)', () => {
    const linked = new Set(linksIn(root, 'README.md').map((link) => link.target.split('#')[0]));
    const entries = docs.filter((page) => page.split('/').length === 2 || page.endsWith('/README.md'));
    expect(entries.filter((page) => !linked.has(page))).toEqual([]);
  });

  it('links every file in examples/ from the README', () => {
    const linked = new Set(linksIn(root, 'README.md').map((link) => link.target));
    const examples = readdirSync(join(root, 'examples')).map((file) => `examples/${file}`);
    expect(examples.length).toBeGreaterThan(0);
    expect(examples.filter((file) => !linked.has(file))).toEqual([]);
  });

  it('keeps the README under 350 lines', () => {
    expect(readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0)).toBeLessThan(350);
  });

  it('says, where the README workflow installs sandbox-procs, that it is not on the registry yet, and how to install it meanwhile', () => {
    const at = readme.indexOf(`\n${WORKFLOW_HEADING}\n`);
    expect(at).toBeGreaterThan(0);
    const section = readme.slice(at + 1).split(/\n## /)[0]!;
    const beforeWorkflow = section.slice(0, section.indexOf('```yaml'));
    expect(beforeWorkflow).toMatch(/not on the npm registry yet/);
    expect(beforeWorkflow).toMatch(/npm install --no-save \.\/sandbox-procs-[\d.]+\.tgz ajv yaml/);
  });
});

describe('the link checker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-procs-links-'));
  mkdirSync(join(dir, 'docs'));
  writeFileSync(join(dir, 'docs', 'a.md'), '# A page\n\n## Errors, time limits & retries\n\n## Errors, time limits & retries\n');
  writeFileSync(
    join(dir, 'README.md'),
    [
      '# Title',
      '[fine](docs/a.md) [anchor](docs/a.md#errors-time-limits--retries) [second](docs/a.md#errors-time-limits--retries-1)',
      '[here](#title) [web](https://example.com/missing) `[code](docs/none.md)`',
      '```',
      '[in a block](docs/none.md)',
      '```',
      '[gone](docs/gone.md) [no anchor](docs/a.md#nowhere) [out](../elsewhere.md)',
      '[ref]: docs/also-gone.md',
    ].join('\n'),
  );
  const dead = () => linksIn(dir, 'README.md').flatMap((link) => (deadLink(dir, link) ? [`${link.line}: ${link.target}`] : []));

  it('finds dead files, anchors and escapes, and ignores code and other schemes', () => {
    try {
      expect(dead()).toEqual(['7: docs/gone.md', '7: docs/a.md#nowhere', '7: ../elsewhere.md', '8: docs/also-gone.md']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('spells heading ids as GitHub does', () => {
    expect([...headingIds('# First program\n## Quick start (working on sandbox-procs itself)\n## `check`\n```\n# not a heading\n```\n')]).toEqual([
      'first-program',
      'quick-start-working-on-sandbox-procs-itself',
      'check',
    ]);
  });
});
