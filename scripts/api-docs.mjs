#!/usr/bin/env node
// Writes the API reference of the package's two public entries (`sandbox-procs`,
// `sandbox-procs/emulator`) as Markdown into docs/api/, with TypeDoc and the options
// in typedoc.json. Any TypeDoc warning fails it, and so does every exported symbol
// without a doc comment (TypeDoc's notDocumented validation; the exemption for
// undescribed spec fields is in scripts/typedoc-plugin.mjs).
// `--check` writes into a temporary folder and exits 1 when docs/api/ differs.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Application, LogLevel } from 'typedoc';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
export const API_DOCS_DIR = join(packageRoot, 'docs', 'api');

/**
 * Renders the reference into `out`. Resolves with TypeDoc's warnings and errors
 * (empty when the reference is complete); writes nothing when there are any.
 * `overrides` are TypeDoc options over typedoc.json's (the tests point it at a fixture).
 */
export async function renderApiDocs(out = API_DOCS_DIR, overrides = {}) {
  const problems = [];
  const app = await Application.bootstrapWithPlugins({
    options: join(packageRoot, 'typedoc.json'),
    // Here, not in typedoc.json: a tsconfig there would win over the tests' override.
    tsconfig: join(packageRoot, 'tsconfig.build.json'),
    out,
    logLevel: 'Warn',
    ...overrides,
  });
  const log = app.logger.log.bind(app.logger);
  app.logger.log = (message, level) => {
    if (level >= LogLevel.Warn) problems.push(message.replace(/\x1b\[[0-9;]*m/g, ''));
    log(message, level);
  };
  const project = await app.convert();
  if (!project) return problems.length > 0 ? problems : ['TypeDoc could not convert the project'];
  app.validate(project);
  if (problems.length > 0) return problems;
  await rm(out, { recursive: true, force: true });
  await app.generateOutputs(project);
  return problems;
}

/** Every file under `dir`, relative to it, with its content. */
export async function readTree(dir) {
  const files = new Map();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), await readFile(path, 'utf8'));
  }
  return files;
}

/** The files of docs/api/ that a fresh render would add, change or remove. */
export async function staleApiDocs() {
  const scratch = await mkdtemp(join(tmpdir(), 'sandbox-procs-api-'));
  try {
    const problems = await renderApiDocs(scratch);
    if (problems.length > 0) return { problems, stale: [] };
    const fresh = await readTree(scratch);
    const committed = await readTree(API_DOCS_DIR).catch(() => new Map());
    const names = new Set([...fresh.keys(), ...committed.keys()]);
    const stale = [...names].filter((name) => fresh.get(name) !== committed.get(name)).sort();
    return { problems, stale };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--check')) {
    const { problems, stale } = await staleApiDocs();
    for (const problem of problems) console.error(problem);
    for (const name of stale) console.error(`stale: docs/api/${name} (run \`npm run docs:api\`)`);
    process.exitCode = problems.length > 0 || stale.length > 0 ? 1 : 0;
  } else {
    const problems = await renderApiDocs();
    for (const problem of problems) console.error(problem);
    process.exitCode = problems.length > 0 ? 1 : 0;
    if (problems.length === 0) console.log(`wrote ${relative(packageRoot, API_DOCS_DIR)}/`);
  }
}
