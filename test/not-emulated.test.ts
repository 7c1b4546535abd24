// Every operation of every spec (both providers' process APIs and control planes)
// is answered by its emulator, never by a bare router 404: an emulated one reaches
// its handler (any status, and a 404 only as the provider's own JSON error body),
// and one marked `x-emulated: false` (files, desktop, templates, snapshots, ...: what
// the official SDKs can call and the emulators do not serve) answers 501 in the
// provider's own error shape, saying "not emulated by sandbox-procs" and naming the
// operation, valid against the spec's NotEmulated response.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { loadSpec } from '../src/specs.js';
import { testKey } from './support/secrets.js';

const SPECS = [
  { spec: 'hopx', provider: 'hopx', controlPlane: false, auth: (token: string) => ({ authorization: `Bearer ${token}` }) },
  { spec: 'hopx-control', provider: 'hopx', controlPlane: true, auth: (token: string) => ({ 'x-api-key': token }) },
  { spec: 'tensorlake', provider: 'tensorlake', controlPlane: false, auth: (token: string) => ({ authorization: `Bearer ${token}` }) },
  { spec: 'tensorlake-control', provider: 'tensorlake', controlPlane: true, auth: (token: string) => ({ authorization: `Bearer ${token}` }) },
] as const;

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
/** A value for each path parameter that names nothing that exists (a PID no process has). */
const PATH_VALUES: Record<string, string> = { pid: '999999', namespace: 'default' };

interface Operation {
  operationId: string;
  method: string;
  path: string;
  emulated: boolean;
}

function operationsOf(doc: any): Operation[] {
  return Object.entries<any>(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ operationId: item[method].operationId, method, path, emulated: item[method]['x-emulated'] !== false })),
  );
}

describe.each(SPECS)('specs/$spec.yaml against its emulator', ({ spec, provider, controlPlane, auth }) => {
  const doc = loadSpec(spec) as any;
  const operations = operationsOf(doc);
  const ajv = new Ajv2020({ strict: false });
  ajv.addSchema(doc, 'spec');
  const notEmulatedSchema = doc.components.responses.NotEmulated.content['application/json'].schema.$ref.replace('#', 'spec#');
  const validNotEmulated = ajv.getSchema(notEmulatedSchema)!;
  let emulator: RunningEmulator;

  beforeAll(async () => {
    emulator = await startEmulator(provider, { token: testKey(`walk-${spec}`), isolation: 'none', controlPlane });
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  const send = async ({ method, path }: Operation) => {
    const url = new URL(path.replace(/\{([^}]+)\}/g, (_, name: string) => PATH_VALUES[name] ?? `no-such-${name}`), emulator.baseUrl);
    const withBody = ['post', 'put', 'patch'].includes(method);
    const response = await fetch(url, {
      method: method.toUpperCase(),
      headers: { ...auth(emulator.token), ...(withBody ? { 'content-type': 'application/json' } : {}) },
      ...(withBody ? { body: '{}' } : {}),
      signal: AbortSignal.timeout(20_000),
    });
    return { status: response.status, body: await response.text() };
  };

  it('declares operations the emulator does not serve', () => {
    expect(operations.filter((op) => !op.emulated).length).toBeGreaterThan(0);
  });

  it.each(operations.filter((op) => op.emulated).map((op) => [op.operationId, op] as const))('%s reaches its handler', async (_id, op) => {
    const { status, body } = await send(op);
    expect(status).not.toBe(501);
    if (status === 404) {
      // The handler's own "no such thing", in the provider's JSON error body: not the router's.
      expect(body).not.toMatch(/no route/);
      expect(() => JSON.parse(body)).not.toThrow();
    }
  });

  it.each(operations.filter((op) => !op.emulated).map((op) => [op.operationId, op] as const))('%s answers 501 "not emulated by sandbox-procs"', async (operationId, op) => {
    const { status, body } = await send(op);
    expect(status).toBe(501);
    const json = JSON.parse(body);
    expect(validNotEmulated(json), JSON.stringify(validNotEmulated.errors)).toBe(true);
    const message = String(json.error ?? json.message);
    expect(message).toContain('not emulated by sandbox-procs');
    expect(message).toContain(operationId);
    expect(message).toContain(`${op.method.toUpperCase()} ${op.path}`);
  });
});
