// The layout tells the architecture: what is shared knows no provider, and a
// provider is one spec, one folder and one registry entry.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { providerNames } from '../src/registry.js';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');

function sources(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(folder, file));
}

describe('the layout', () => {
  it('src/emulator/ names no provider and imports nothing from src/providers/', () => {
    const named = new RegExp(`\\b(${providerNames.join('|')})\\b`, 'i');
    const offenders = sources(join(src, 'emulator')).flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return [
        ...(named.test(text) ? [`${relative(root, file)} names a provider`] : []),
        ...(/from '[^']*providers\//.test(text) || /import\('[^']*providers\//.test(text) ? [`${relative(root, file)} imports from src/providers/`] : []),
      ];
    });
    expect(offenders).toEqual([]);
  });

  it("outside src/providers/, only the type of provider names spells one out as a string", () => {
    const quoted = new RegExp(`'(${providerNames.join('|')})'`);
    const spelled = sources(src)
      .filter((file) => !relative(src, file).startsWith('providers/'))
      .filter((file) => quoted.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file));
    expect(spelled).toEqual(['src/errors.ts']);
  });

  it.each(providerNames)('%s: one spec and one folder holding its client, adapter, contracts and emulator', (name) => {
    const folder = join(src, 'providers', name);
    const expected = ['client.ts', 'processes.ts', 'contract.ts', 'control-contract.ts', 'emulator/index.ts'];
    expect(expected.filter((file) => !existsSync(join(folder, file)))).toEqual([]);
    expect(existsSync(join(root, 'specs', `${name}.yaml`))).toBe(true);
  });
});
