// The harness of the property-based tests (fast-check): a real local server that
// answers every operation with the spec's own success example (or a scripted
// response), the input arbitraries, and the property every call must keep.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, expect } from 'vitest';
import { operations as hopxOperations } from '../../generated/hopx.operations.js';
import { operations as tensorlakeOperations } from '../../generated/tensorlake.operations.js';
import type { OperationTable } from '../../src/core/operation.js';
import { SpecValidator } from '../../src/contract/validate.js';
import { loadSpec } from '../../src/specs.js';
import {
  SandboxProcsError,
  ValidationError,
  createHopxClient,
  createTensorlakeClient,
  type HopxClient,
  type ProviderName,
  type TensorlakeClient,
} from '../../src/index.js';
import { runs } from './profile.js';
import { leakedKeys, testKey } from './secrets.js';

/** 10 000 in the full profile (CI, `npm run test:full`); fewer in a fast local run (profile.ts). */
export const RUNS = runs(10_000);
/**
 * The transports every property runs on: the default (on Node, the keep-alive pool
 * over node:http) with RUNS runs, and the global fetch given as `fetch` with a tenth
 * of them (the same code above the transport; the runs there are for its own edges).
 */
export const TRANSPORTS: Array<{ name: string; options: { fetch?: (request: Request) => Promise<Response> }; runs: number }> = [
  { name: 'node:http pool', options: {}, runs: RUNS },
  { name: 'fetch', options: { fetch: (request: Request) => globalThis.fetch(request) }, runs: RUNS / 10 },
];
export const apiKey = testKey('properties');

interface Received {
  method: string;
  path: string;
  contentType: string | undefined;
  body: string;
}

interface Route {
  provider: ProviderName;
  operation: string;
  method: string;
  pattern: RegExp;
}

function routes(provider: ProviderName, table: OperationTable): Route[] {
  return Object.entries(table).map(([operation, meta]) => ({
    provider,
    operation,
    method: meta.method.toUpperCase(),
    pattern: new RegExp(`^${meta.path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
}
const ROUTES = [...routes('tensorlake', tensorlakeOperations), ...routes('hopx', hopxOperations)];

/** The spec's own success example for an operation: what Prism would serve. */
function successExample(provider: ProviderName, operation: string): { status: number; contentType?: string; body: string } {
  const doc = loadSpec(provider) as unknown as { paths: Record<string, Record<string, any>>; components: any };
  for (const item of Object.values(doc.paths)) {
    for (const op of Object.values(item)) {
      if (op?.operationId !== operation) continue;
      const [status, response] = Object.entries<any>(op.responses).find(([code]) => code.startsWith('2'))!;
      const resolved = response.$ref ? doc.components.responses[response.$ref.split('/').pop()] : response;
      const [contentType, media] = Object.entries<any>(resolved.content ?? {})[0] ?? [];
      if (!contentType) return { status: Number(status), body: '' };
      return { status: Number(status), contentType, body: contentType === 'application/json' ? JSON.stringify(media.example) : media.example };
    }
  }
  throw new Error(`no ${operation}`);
}

export const server = { baseUrl: '', scripted: undefined as { status: number; contentType?: string; body: string } | undefined };
let close: () => Promise<void>;
const received: Received[] = [];

/** Starts the answering server for the calling test file. */
export function useAnsweringServer(): void {
beforeAll(async () => {
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url!, 'http://x').pathname;
      received.push({ method: req.method!, path: req.url!, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
      const route = ROUTES.find((r) => r.method === req.method && r.pattern.test(path));
      const answer = server.scripted ?? (route ? successExample(route.provider, route.operation) : { status: 404, body: '' });
      res.writeHead(answer.status, answer.contentType ? { 'content-type': answer.contentType } : {});
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  server.baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  close = () =>
    new Promise((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    });
});
afterAll(() => close?.());
}

// Inputs: a valid-looking value some of the time, anything at all the rest.
const anything = fc.anything({ maxDepth: 2 });
const text = fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('', '.', '..', '/', '%2F', '?a=b'));
const pid = fc.oneof(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer(), fc.double(), text, anything);
const processId = fc.oneof(fc.string({ minLength: 1 }), text, fc.integer(), anything);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, anything);
const env = maybe(fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }));
const args = maybe(fc.array(fc.string(), { maxLength: 3 }));
const startRequest = fc.oneof(
  fc.record(
    {
      command: maybe(fc.string()),
      args,
      env,
      working_dir: maybe(fc.string()),
      user: maybe(fc.oneof(fc.string(), fc.nat(), fc.record({ uid: fc.nat(), gid: fc.nat() }))),
      stdin_mode: maybe(fc.constantFrom('closed', 'pipe')),
      stdout_mode: maybe(fc.constantFrom('capture', 'discard')),
    },
    { requiredKeys: [] },
  ),
  anything,
);
const codeRequest = fc.oneof(
  fc.record(
    {
      code: maybe(fc.string()),
      language: maybe(fc.constantFrom('python', 'javascript', 'bash', 'go')),
      timeout: maybe(fc.integer({ min: -5, max: 400 })),
      env,
      workdir: maybe(fc.string()),
      name: maybe(fc.string()),
    },
    { requiredKeys: [] },
  ),
  anything,
);
const commandRequest = fc.oneof(
  fc.record({ command: maybe(fc.string()), args, timeout: maybe(fc.integer({ min: -5, max: 400 })), workdir: maybe(fc.string()), env }, { requiredKeys: [] }),
  anything,
);
export const drain = async (events: AsyncIterable<unknown>) => {
  for await (const event of events) void event;
};

export type Case<C> = [operation: string, input: fc.Arbitrary<unknown[]>, call: (client: C, input: any[]) => Promise<unknown>];
const tuple = (...arbs: fc.Arbitrary<unknown>[]) => fc.tuple(...arbs) as fc.Arbitrary<unknown[]>;

export const tensorlakeCases: Case<TensorlakeClient>[] = [
  ['sandbox_process_start', tuple(startRequest), (c, [r]) => c.startProcess(r)],
  ['sandbox_process_run', tuple(startRequest), (c, [r]) => drain(c.run(r))],
  ['sandbox_process_get', tuple(pid), (c, [p]) => c.getProcess(p)],
  ['sandbox_process_kill', tuple(pid), (c, [p]) => c.killProcess(p)],
  ['sandbox_process_signal', tuple(pid, fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer(), anything)), (c, [p, s]) => c.sendSignal(p, s)],
  ['sandbox_process_write_stdin', tuple(pid, fc.oneof(fc.string(), fc.uint8Array({ maxLength: 16 }), anything)), (c, [p, d]) => c.writeStdin(p, d)],
  ['sandbox_process_close_stdin', tuple(pid), (c, [p]) => c.closeStdin(p)],
  ['sandbox_process_stdout', tuple(pid), (c, [p]) => c.getStdout(p)],
  ['sandbox_process_stderr', tuple(pid), (c, [p]) => c.getStderr(p)],
  ['sandbox_process_output', tuple(pid), (c, [p]) => c.getOutput(p)],
  ['sandbox_process_follow_stdout', tuple(pid), (c, [p]) => drain(c.followStdout(p))],
  ['sandbox_process_follow_stderr', tuple(pid), (c, [p]) => drain(c.followStderr(p))],
  ['sandbox_process_follow_output', tuple(pid), (c, [p]) => drain(c.followOutput(p))],
];
export const hopxCases: Case<HopxClient>[] = [
  ['execute_code', tuple(codeRequest), (c, [r]) => c.runCode(r)],
  ['execute_code_background', tuple(codeRequest), (c, [r]) => c.runCodeBackground(r)],
  ['kill_process', tuple(processId, fc.constantFrom('body', 'query')), (c, [id, form]) => c.killProcess(id, { form })],
  ['kill_process_by_path', tuple(processId), (c, [id]) => c.killProcess(id, { form: 'path' })],
  ['run_command', tuple(commandRequest), (c, [r]) => c.runCommand(r)],
  ['run_command_background', tuple(commandRequest), (c, [r]) => c.runCommandBackground(r)],
];

export function checkProperty<C>(provider: ProviderName, client: () => C, [operation, input, call]: Case<C>) {
  const validator = new SpecValidator(provider);
  const route = ROUTES.find((r) => r.provider === provider && r.operation === operation)!;
  const hasJsonBody = (provider === 'tensorlake' ? tensorlakeOperations : hopxOperations)[operation as never]?.['requestBody'] !== undefined;
  return fc.asyncProperty(input, async (values) => {
    const before = received.length;
    const outcome = await call(client(), values).then(
      () => 'sent' as const,
      (error: unknown) => error,
    );
    const sent = received.slice(before);
    if (outcome !== 'sent') {
      // The only refusal allowed is the typed one, before anything goes out.
      expect(outcome).toBeInstanceOf(ValidationError);
      expect(leakedKeys(outcome)).toEqual([]);
      expect(sent).toEqual([]);
      return;
    }
    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request!.method).toBe(route.method);
    expect(route.pattern.test(new URL(request!.path, 'http://x').pathname)).toBe(true);
    if (hasJsonBody && request!.body !== '') {
      expect(request!.contentType).toBe('application/json');
      expect(validator.checkRequestBody(operation, request!.body)).toEqual([]);
    }
  });
}

