// What `emulate` hands a user: the variables that point a program at an emulator
// (RunningEmulator.env), as export lines a shell takes back exactly, and as the
// README's table promises them.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { exportLines } from '../src/emulator/env-file.js';
import { startEmulator } from '../src/emulator/index.js';
import type { ProviderName } from '../src/errors.js';
import { createHopxClient, createTensorlakeClient } from '../src/index.js';

const root = join(import.meta.dirname, '..');

/** The README's table: command -> the variables it says `emulate` exports. */
async function readmeTable(): Promise<Map<string, string[]>> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const rows = [...readme.matchAll(/^\| `npx sandbox-procs emulate --provider (\w+)( --control-plane)?` \| (.*) \|$/gm)];
  return new Map(rows.map((m) => [`${m[1]}${m[2] ?? ''}`, [...m[3]!.matchAll(/`([A-Z_]+)`/g)].map((v) => v[1]!)]));
}

describe('the variables emulate exports', () => {
  it.each([
    ['tensorlake', false],
    ['hopx', false],
    ['tensorlake', true],
    ['hopx', true],
  ] as [ProviderName, boolean][])('%s (control plane: %s): the names the README lists, pointing at the emulator with its key', async (provider, controlPlane) => {
    const table = await readmeTable();
    const emulator = controlPlane ? await startEmulator(provider, { controlPlane: true }) : await startEmulator(provider);
    try {
      expect(Object.keys(emulator.env)).toEqual(table.get(`${provider}${controlPlane ? ' --control-plane' : ''}`));
      expect(Object.values(emulator.env)).toContain(emulator.baseUrl);
      expect(Object.values(emulator.env)).toContain(emulator.token);
      if (!controlPlane) {
        // The plain emulator's pair is what the examples hand the typed client: it works.
        const [url, key] = Object.values(emulator.env) as [string, string];
        const list = provider === 'tensorlake' ? createTensorlakeClient({ baseUrl: url, apiKey: key }).listProcesses() : createHopxClient({ baseUrl: url, apiKey: key }).listProcesses();
        await expect(list).resolves.toEqual([]);
      }
    } finally {
      await emulator.stop();
    }
  });

  it('export lines give a shell back every value exactly, quotes and spaces included, and never print a hidden token', async () => {
    const env = { PLAIN_URL: 'http://127.0.0.1:4242', ODD_KEY: `it's "odd" $HOME \`x\` \\ end` };
    const script = `${exportLines(env).join('\n')}\nprintf '%s\\n%s' "$PLAIN_URL" "$ODD_KEY"`;
    const { stdout } = await promisify(execFile)('bash', ['-c', script], { env: { PATH: process.env.PATH } });
    expect(stdout).toBe(`${env.PLAIN_URL}\n${env.ODD_KEY}`);

    const hidden = exportLines({ URL: 'http://127.0.0.1:1', KEY: 'my-secret-token' }, { value: 'my-secret-token', fromVariable: 'MY_TOKEN' });
    expect(hidden).toEqual(['export URL=http://127.0.0.1:1', 'export KEY="$MY_TOKEN"']);
    expect(exportLines({ KEY: 'my-secret-token' }, { value: 'my-secret-token' }).join('\n')).not.toContain('my-secret-token');
  });
});
