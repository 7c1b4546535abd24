// The documentation's programs: the ```ts and ```js blocks of README.md and docs/**/*.md,
// and the files in examples/. A block whose first line names an example file
// (`// examples/neutral.ts: ...`) is a copy of that file and must equal it; every
// other block, and every example, is a program: type-checked against the package's
// own types, compiled (with the sources it imports) into a folder of its own, and
// run in a Node process with the environment a test gives.
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

export const root = join(import.meta.dirname, '..', '..');

/** The Markdown files whose programs are checked: the README and every page under docs/. */
export async function documentationFiles(): Promise<string[]> {
  const docs = (await readdir(join(root, 'docs'), { recursive: true }))
    .filter((file) => file.endsWith('.md'))
    .map((file) => join('docs', file))
    .sort();
  return ['README.md', ...docs];
}

export interface DocBlock {
  /** Where it is, `README.md:120` (the line of its opening fence). */
  where: string;
  lang: 'ts' | 'js';
  source: string;
  /** The example file it copies (`examples/neutral.ts`), when its first line names one. */
  copies?: string;
}

const PROGRAM_FENCE = /^```(ts|js)\n([\s\S]*?)^```$/gm;
const COPY_LINE = /^\/\/ (examples\/[\w.-]+)(?::|$)/;

export async function documentationBlocks(): Promise<DocBlock[]> {
  const blocks: DocBlock[] = [];
  for (const file of await documentationFiles()) {
    const text = await readFile(join(root, file), 'utf8');
    for (const m of text.matchAll(PROGRAM_FENCE)) {
      const line = text.slice(0, m.index).split('\n').length;
      const source = m[2]!;
      blocks.push({ where: `${file}:${line}`, lang: m[1] as 'ts' | 'js', source, copies: COPY_LINE.exec(source)?.[1] });
    }
  }
  return blocks;
}

export interface ExampleFile {
  /** `examples/neutral.ts` */
  path: string;
  source: string;
}

export async function exampleFiles(): Promise<ExampleFile[]> {
  const names = (await readdir(join(root, 'examples'))).filter((name) => /\.(ts|mjs)$/.test(name)).sort();
  return Promise.all(names.map(async (name) => ({ path: `examples/${name}`, source: await readFile(join(root, 'examples', name), 'utf8') })));
}

/** The provider settings a program reads from the environment, in the order it names them. */
export function settingsRead(source: string): string[] {
  return [...new Set([...source.matchAll(/'((?:TENSORLAKE|HOPX)_[A-Z_]+)'/g)].map((m) => m[1]!))];
}

export interface Program {
  /** A name for messages and for its file: `example-N.ts` or `example-N.js`. */
  name: string;
  source: string;
}

export interface CompiledExamples {
  /** Type errors, as `example-N.ts:LINE: message`; the programs are only emitted when there are none. */
  problems: string[];
  /** The compiled program N (1-based) as a runnable ES module. */
  entry(n: number): string;
  remove(): Promise<void>;
}

/** The package's own names, pointed at the compiled sources (what `paths` does for the type-check). */
const PACKAGE_IMPORT = /((?:from|import)\s*\(?\s*)(['"])sandbox-procs(\/emulator)?\2/g;

/** Type-checks and compiles programs given as TypeScript (`ts`) or JavaScript (`js`) sources. */
export async function compileExamples(sources: Array<string | { lang: 'ts' | 'js'; source: string }>): Promise<CompiledExamples> {
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-readme-'));
  const sourceDir = join(dir, 'examples');
  const outDir = join(dir, 'out');
  await mkdir(sourceDir);
  // ES modules, as in the package (top-level await needs it), and the package's dependencies.
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const files = await Promise.all(
    sources.map(async (given, i) => {
      const { lang, source } = typeof given === 'string' ? { lang: 'ts' as const, source: given } : given;
      const file = join(sourceDir, `example-${i + 1}.${lang}`);
      await writeFile(file, source);
      return file;
    }),
  );
  const { config } = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
  // The package's entry points are roots too, so that a JavaScript-only set still has them compiled.
  const entries = [join(root, 'src', 'index.ts'), join(root, 'src', 'emulator', 'index.ts')];
  const program = ts.createProgram([...files, ...entries], { ...options, noEmit: false, outDir, rootDir: '/', declaration: false, sourceMap: false });
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.includes(d.file.fileName))
    .map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      return `${d.file!.fileName.slice(sourceDir.length + 1)}:${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
  const emitted = (file: string) => join(outDir, file.replace(/\.ts$/, '.js'));
  if (problems.length === 0) {
    program.emit(undefined, (fileName, text) => {
      const fromDir = dirname(fileName);
      const rewritten = text.replace(PACKAGE_IMPORT, (_all, head: string, quote: string, sub: string | undefined) => {
        const target = emitted(join(root, 'src', sub ? 'emulator/index.ts' : 'index.ts'));
        return `${head}${quote}./${relative(fromDir, target)}${quote}`;
      });
      ts.sys.writeFile(fileName, rewritten);
    });
  }
  return {
    problems,
    entry: (n) => emitted(files[n - 1]!),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface ExampleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one program to its end (at most `timeoutMs`), with `env` added to this process's
 * environment, from which every provider setting is removed first: a developer's own
 * TENSORLAKE_API_KEY or HOPX_BASE_URL must never reach an example run here.
 */
export function runExample(entry: string, env: Record<string, string>, timeoutMs = 60_000, cwd?: string): Promise<ExampleRun> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(TENSORLAKE|HOPX)_/.test(name)));
  return new Promise((resolve) => {
    execFile(process.execPath, [entry], { cwd, env: { ...inherited, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
