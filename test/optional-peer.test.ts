// The one import-once logic behind every optional peer: a peer is imported once, a
// failed import is tried again on the next call, and only a package that is not
// there counts as missing.
import { describe, expect, it } from 'vitest';
import { commonJsExports, importOnce, isModuleMissing } from '../src/core/optional-peer.js';

describe('importOnce', () => {
  it('imports once and hands every caller the same module', async () => {
    let imports = 0;
    const load = importOnce(async () => ({ loaded: ++imports }));
    const [a, b] = await Promise.all([load(), load()]);
    expect(await load()).toBe(a);
    expect(b).toBe(a);
    expect(imports).toBe(1);
  });

  it('forgets a failed import, so that the next call tries again', async () => {
    let imports = 0;
    const load = importOnce(async () => {
      if (++imports === 1) throw Object.assign(new Error("Cannot find package 'ws'"), { code: 'ERR_MODULE_NOT_FOUND' });
      return { loaded: imports };
    });
    await expect(load()).rejects.toThrow("Cannot find package 'ws'");
    await expect(load()).resolves.toEqual({ loaded: 2 });
    expect(imports).toBe(2);
  });
});

describe('isModuleMissing', () => {
  it('tells a missing package from one that broke while loading', async () => {
    const missing = await import('a-package-that-is-not-installed' as string).catch((e: unknown) => e);
    expect(isModuleMissing(missing)).toBe(true);
    expect(isModuleMissing(Object.assign(new Error('x'), { code: 'MODULE_NOT_FOUND' }))).toBe(true);
    expect(isModuleMissing(new SyntaxError('Unexpected token'))).toBe(false);
    expect(isModuleMissing(undefined)).toBe(false);
  });
});

describe('commonJsExports', () => {
  it("takes a CommonJS package's exports from the default export, and leaves an ES module as it is", async () => {
    const pty = await import('@lydell/node-pty');
    expect(typeof commonJsExports(pty as typeof pty & { default?: typeof pty }).spawn).toBe('function');
    const esm = { spawn: () => undefined };
    expect(commonJsExports(esm)).toBe(esm);
  });
});
