// One suite for the provider-neutral interface, run against both providers'
// Prism mocks: the same expectations whichever provider is behind it.
import { describe, expect, inject, it } from 'vitest';
import {
  AuthenticationError,
  InvalidRequestError,
  UnsupportedOperationError,
  ValidationError,
  createHopxClient,
  createTensorlakeClient,
  type ProcessRecord,
  type SandboxProcesses,
} from '../src/index.js';
import type { ProcessStatus } from '../src/processes.js';
import { testKey } from './support/secrets.js';

const neutralKey = testKey('neutral');

const baseUrls = inject('prismBaseUrls');
const STATUSES: ProcessStatus[] = ['queued', 'running', 'exited', 'signaled', 'failed', 'timeout', 'unknown'];

interface Harness {
  /** The neutral interface, with Prism asked for `status` when one is given. */
  processes(status?: number): { processes: SandboxProcesses; sent: () => number };
  knownId: string;
  /** Every declared way the provider says a process is already gone. */
  goneStatuses: number[];
  /** A declared kill failure that does not mean "gone", and the error it must raise. */
  otherKillError: [number, new (...args: never[]) => Error];
}

function counting(status: number | undefined) {
  let sent = 0;
  const fetch = (request: Request) => {
    sent++;
    if (status !== undefined) request.headers.set('Prefer', `code=${status}`);
    return globalThis.fetch(request);
  };
  return { fetch, sent: () => sent };
}

const harnesses: Record<'tensorlake' | 'hopx', Harness> = {
  tensorlake: {
    processes(status) {
      const { fetch, sent } = counting(status);
      return { processes: createTensorlakeClient({ apiKey: neutralKey, baseUrl: baseUrls.tensorlake!, fetch }).processes, sent };
    },
    knownId: '42',
    // 500 is the daemon's "Process N is not running" (the spec's example).
    goneStatuses: [404, 500],
    otherKillError: [400, InvalidRequestError],
  },
  hopx: {
    processes(status) {
      const { fetch, sent } = counting(status);
      return { processes: createHopxClient({ apiKey: neutralKey, baseUrl: baseUrls.hopx!, fetch }).processes, sent };
    },
    knownId: 'proc_abc123',
    goneStatuses: [404],
    otherKillError: [400, InvalidRequestError],
  },
};

function expectWellFormed(record: ProcessRecord): void {
  expect(typeof record.id).toBe('string');
  expect(record.id).not.toBe('');
  expect(STATUSES).toContain(record.status);
  expect(record.running).toBe(record.status === 'running' || record.status === 'queued');
  expect(record.exitCode === null || Number.isInteger(record.exitCode)).toBe(true);
  expect(record.command === null || typeof record.command === 'string').toBe(true);
  expect(record.args === null || (Array.isArray(record.args) && record.args.every((arg) => typeof arg === 'string'))).toBe(true);
  for (const date of [record.startedAt, record.endedAt]) {
    expect(date === null || (date instanceof Date && !Number.isNaN(date.getTime()))).toBe(true);
  }
  expect(record.raw).toBeTypeOf('object');
}

describe.each(Object.entries(harnesses))('neutral processes: %s', (provider, harness) => {
  it('names its provider and capabilities', () => {
    const { processes } = harness.processes();
    expect(processes.provider).toBe(provider);
    expect(typeof processes.capabilities.signals).toBe('boolean');
  });

  it('start returns a normalized, running record with the raw provider record', async () => {
    const record = await harness.processes().processes.start({ command: 'sleep', args: ['60'], env: { A: '1' }, cwd: '/tmp' });
    expectWellFormed(record);
    expect(record.running).toBe(true);
    // Prism answers its example, not what was sent: Tensorlake's command is the example's; HopX's is what start() ran.
    expect(record.command).toBe(provider === 'tensorlake' ? (record.raw as { command: string }).command : 'sleep');
    expect(record.startedAt).toBeInstanceOf(Date);
  });

  it('list returns normalized records', async () => {
    const records = await harness.processes().processes.list();
    expect(records.length).toBeGreaterThan(0);
    records.forEach(expectWellFormed);
  });

  it('get returns the record, or undefined when the process is unknown', async () => {
    const found = await harness.processes().processes.get(harness.knownId);
    expect(found).toBeDefined();
    expectWellFormed(found!);
    expect(found!.id).toBe(harness.knownId);
    // Tensorlake answers a 404; HopX's list simply does not hold the id.
    const { processes } = harness.processes(provider === 'tensorlake' ? 404 : undefined);
    expect(await processes.get(provider === 'tensorlake' ? '43' : 'proc_unknown')).toBeUndefined();
  });

  it('kill resolves true when the process was killed and false when it was already gone', async () => {
    expect(await harness.processes().processes.kill(harness.knownId)).toBe(true);
    for (const status of harness.goneStatuses) expect(await harness.processes(status).processes.kill(harness.knownId)).toBe(false);
  });

  it('kill still throws the typed errors other than not-found', async () => {
    const [status, ErrorClass] = harness.otherKillError;
    await expect(harness.processes(status).processes.kill(harness.knownId)).rejects.toBeInstanceOf(ErrorClass);
    await expect(createUnauthorized(provider as 'tensorlake' | 'hopx').kill(harness.knownId)).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('refuses an invalid id before sending anything', async () => {
    const { processes, sent } = harness.processes();
    await expect(processes.kill('')).rejects.toBeInstanceOf(ValidationError);
    expect(sent()).toBe(0);
  });

  it('signals where the provider can, and says so where it cannot, sending nothing', async () => {
    const { processes, sent } = harness.processes();
    if (processes.capabilities.signals) {
      await expect(processes.signal(harness.knownId, 15)).resolves.toBeUndefined();
      expect(sent()).toBe(1);
    } else {
      await expect(processes.signal(harness.knownId, 15)).rejects.toBeInstanceOf(UnsupportedOperationError);
      expect(sent()).toBe(0);
    }
  });
});

function createUnauthorized(provider: 'tensorlake' | 'hopx'): SandboxProcesses {
  const fetch = (request: Request) => {
    request.headers.delete('authorization');
    return globalThis.fetch(request);
  };
  return provider === 'tensorlake'
    ? createTensorlakeClient({ apiKey: neutralKey, baseUrl: baseUrls.tensorlake!, fetch }).processes
    : createHopxClient({ apiKey: neutralKey, baseUrl: baseUrls.hopx!, fetch }).processes;
}
