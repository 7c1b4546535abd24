// The README's TypeScript examples compile, strictly, against the package's own
// types: they are extracted and type-checked, not pasted and trusted.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const workDir = join(root, 'test', '.readme-examples');

async function typeCheck(sources: string[]): Promise<string[]> {
  await mkdir(workDir, { recursive: true });
  const files = await Promise.all(
    sources.map(async (source, i) => {
      const file = join(workDir, `example-${i + 1}.ts`);
      await writeFile(file, source);
      return file;
    }),
  );
  const { config } = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
  const program = ts.createProgram(files, { ...options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.includes(d.file.fileName))
    .map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      return `${d.file!.fileName.slice(workDir.length + 1)}:${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
}

afterAll(() => rm(workDir, { recursive: true, force: true }));

describe('README examples', () => {
  it('has a typed example per provider and one for the neutral interface, and they all compile', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.filter((b) => b.includes('createTensorlakeClient(')).length).toBeGreaterThanOrEqual(1);
    expect(blocks.filter((b) => b.includes('createHopxClient(')).length).toBeGreaterThanOrEqual(1);
    expect(blocks.filter((b) => b.includes('SandboxProcesses')).length).toBeGreaterThanOrEqual(1);
    expect(await typeCheck(blocks)).toEqual([]);
  });

  it('would catch an example that misuses the API', async () => {
    const wrong = [
      "import { createTensorlakeClient } from 'sandbox-procs';",
      "const client = createTensorlakeClient({ apiKey: 'k', sandbox: 's' });",
      "await client.killProcess({ pid: 42 });",
      "await client.startProcess({ args: ['no command'] });",
    ].join('\n');
    const problems = await typeCheck([wrong]);
    expect(problems.join('\n')).toMatch(/example-1\.ts:3: Argument of type '\{ pid: number; \}' is not assignable to parameter of type 'string \| number'/);
    expect(problems.join('\n')).toMatch(/example-1\.ts:4: .*command/);
  });
});
