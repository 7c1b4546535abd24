// The README's ```ts blocks as programs: extracted, type-checked against the
// package's own types, compiled (with the sources they import) into a folder of
// their own, and run one by one in a Node process with the environment a test gives.
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

const root = join(import.meta.dirname, '..', '..');

export async function readmeBlocks(): Promise<string[]> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

export interface CompiledExamples {
  /** Type errors, as `example-N.ts:LINE: message`; the examples are only emitted when there are none. */
  problems: string[];
  /** The compiled example N (1-based) as a runnable ES module. */
  entry(n: number): string;
  remove(): Promise<void>;
}

/** The package's own names, pointed at the compiled sources (what `paths` does for the type-check). */
const PACKAGE_IMPORT = /((?:from|import)\s*\(?\s*)(['"])sandbox-procs(\/emulator)?\2/g;

export async function compileExamples(sources: string[]): Promise<CompiledExamples> {
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-readme-'));
  const sourceDir = join(dir, 'examples');
  const outDir = join(dir, 'out');
  await mkdir(sourceDir);
  // ES modules, as in the package (top-level await needs it), and the package's dependencies.
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const files = await Promise.all(
    sources.map(async (source, i) => {
      const file = join(sourceDir, `example-${i + 1}.ts`);
      await writeFile(file, source);
      return file;
    }),
  );
  const { config } = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
  const program = ts.createProgram(files, { ...options, noEmit: false, outDir, rootDir: '/', declaration: false, sourceMap: false });
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

/** Runs one compiled example to its end (at most `timeoutMs`), with `env` added to this process's environment. */
export function runExample(entry: string, env: Record<string, string>, timeoutMs = 60_000): Promise<ExampleRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [entry], { env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
