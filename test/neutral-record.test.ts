// What users filter on in the neutral record (command, args, startedAt), against
// the emulators with real processes, and HopX's start time when its answer has none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { createHopxClient, createTensorlakeClient, type HopxClient, type SandboxProcesses } from '../src/index.js';
import { json, startServer } from './support/servers.js';
import { testKey } from './support/secrets.js';

let emulators: RunningEmulator[] = [];
let hopx: HopxClient;
let neutral: Record<'tensorlake' | 'hopx', SandboxProcesses>;

beforeAll(async () => {
  emulators = await Promise.all([startEmulator('tensorlake'), startEmulator('hopx')]);
  const [tensorlakeEmulator, hopxEmulator] = emulators as [RunningEmulator, RunningEmulator];
  hopx = createHopxClient({ apiKey: hopxEmulator.token, baseUrl: hopxEmulator.baseUrl });
  neutral = {
    tensorlake: createTensorlakeClient({ apiKey: tensorlakeEmulator.token, baseUrl: tensorlakeEmulator.baseUrl }).processes,
    hopx: hopx.processes,
  };
});
afterAll(async () => {
  await Promise.all(emulators.map((emulator) => emulator.stop()));
});

describe.each(['tensorlake', 'hopx'] as const)('neutral record on %s', (provider) => {
  it('carries the command, its arguments and a start time, from start, list and get', async () => {
    const before = Date.now();
    const started = await neutral[provider].start({ command: 'sleep', args: ['30', ' '] });
    const after = Date.now();
    try {
      expect(started).toMatchObject({ command: 'sleep', args: ['30', ' '], running: true });
      expect(started.startedAt).toBeInstanceOf(Date);
      // The provider's clock is this machine's; a second of slack for whole-second timestamps.
      expect(started.startedAt!.getTime()).toBeGreaterThanOrEqual(before - 1_000);
      expect(started.startedAt!.getTime()).toBeLessThanOrEqual(after + 1_000);
      const listed = (await neutral[provider].list()).find((p) => p.id === started.id);
      expect(listed).toMatchObject({ command: 'sleep', args: ['30', ' '] });
      expect(await neutral[provider].get(started.id)).toMatchObject({ command: 'sleep', args: ['30', ' '] });
    } finally {
      await neutral[provider].kill(started.id);
    }
  });
});

describe('HopX command and start time', () => {
  it('has no command for a process this client did not start through the neutral interface', async () => {
    const started = await hopx.runCodeBackground({ code: 'sleep 30', language: 'bash', name: 'sleeper' });
    try {
      const listed = await hopx.processes.get(started.process_id);
      expect(listed).toMatchObject({ id: started.process_id, command: null, args: null, running: true });
      expect(listed!.raw.name).toBe('sleeper');
    } finally {
      await hopx.processes.kill(started.process_id);
    }
  });

  it('takes the start time from the answer, else the time of the request', async () => {
    const startTime = '2026-01-02T03:04:05.000Z';
    let answerTime: string | undefined = startTime;
    const server = await startServer((_req, res) =>
      json(res, 200, { process_id: 'proc_1', execution_id: 'exec_1', status: 'running', ...(answerTime && { start_time: answerTime }) }),
    );
    try {
      const processes = createHopxClient({ apiKey: testKey('neutral-record'), baseUrl: server.baseUrl }).processes;
      expect((await processes.start({ command: 'true' })).startedAt?.toISOString()).toBe(startTime);
      answerTime = undefined;
      const before = Date.now();
      const started = await processes.start({ command: 'true' });
      expect(started.startedAt!.getTime()).toBeGreaterThanOrEqual(before);
      expect(started.startedAt!.getTime()).toBeLessThanOrEqual(Date.now());
      expect(started.raw).not.toHaveProperty('start_time');
    } finally {
      await server.close();
    }
  });
});
