// The API key never shows in an error, however it is rendered.
import { describe, expect, it } from 'vitest';
import { createHopxClient, createTensorlakeClient, SandboxProcsError } from '../src/index.js';
import { freePort } from '../src/prism.js';
import { json, startServer } from './support/servers.js';
import { leakedKeys, testKey } from './support/secrets.js';

const apiKey = testKey('secrets');


describe('no API key in errors', () => {
  it('for HTTP errors, undeclared statuses, timeouts and network failures', async () => {
    let mode = 0;
    const server = await startServer((req, res) => {
      // A hostile server that echoes the request's Authorization back in its body.
      if (mode === 0) json(res, 404, { error: `no such process for ${req.headers.authorization}`, code: 'NOT_FOUND' });
      else if (mode === 1) json(res, 418, { error: 'teapot' });
      // mode 2: never answer
    });
    const errors: unknown[] = [];
    try {
      const tensorlake = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl, timeoutMs: 100 });
      const hopx = createHopxClient({ apiKey, baseUrl: server.baseUrl, timeoutMs: 100 });
      for (mode = 0; mode < 3; mode++) {
        errors.push(await tensorlake.killProcess(1).catch((e: unknown) => e));
        errors.push(await hopx.killProcess('p').catch((e: unknown) => e));
      }
      errors.push(await tensorlake.killProcess(0).catch((e: unknown) => e));
      const closed = createHopxClient({ apiKey, baseUrl: `http://127.0.0.1:${await freePort()}` });
      errors.push(await closed.killProcess('p').catch((e: unknown) => e));
      errors.push((() => { try { createHopxClient({ apiKey, baseUrl: 'http://example.com' }); } catch (e) { return e; } })());
    } finally {
      await server.close();
    }
    expect(errors).toHaveLength(9);
    for (const error of errors) {
      expect(error).toBeInstanceOf(SandboxProcsError);
      expect(leakedKeys(error)).toEqual([]);
    }
  });
});
