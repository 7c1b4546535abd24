// The emulators' memory budget, through their HTTP API: finished output goes
// first, then finished records, oldest first; answers say in headers what they
// leave out; a stdin nobody reads refuses more; HopX's list stays bounded.
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../src/emulator/index.js';
import type { ProviderName } from '../src/index.js';

const running: RunningEmulator[] = [];
async function emulator(provider: ProviderName, options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const started = await startEmulator(provider, { handleSignals: false, ...options } as EmulatorOptions);
  running.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
});

const KiB = 1024;

async function call(e: RunningEmulator, path: string, init: RequestInit & { json?: unknown } = {}) {
  const { json, ...rest } = init;
  const response = await fetch(`${e.baseUrl}${path}`, {
    ...rest,
    headers: { Authorization: `Bearer ${e.token}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...(rest.headers as Record<string, string>) },
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: text && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

/** Starts a Tensorlake process and waits for it to exit. */
async function runToExit(e: RunningEmulator, command: string, args: string[]): Promise<number> {
  const started = await call(e, '/api/v1/processes', { method: 'POST', json: { command, args } });
  expect(started.status).toBe(201);
  const pid = started.body.pid as number;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const info = await call(e, `/api/v1/processes/${pid}`);
    if (info.body.status !== 'running') return pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`process ${pid} did not exit`);
}

describe('the memory budget (tensorlake)', () => {
  it('evicts the output of the process that finished first, then whole finished records, and says so in headers', async () => {
    // Each process prints 100 lines of 1000 bytes (~100 KB): three such fill a 256 KiB budget.
    const e = await emulator('tensorlake', { limits: { maxTotalOutputBytes: 256 * KiB, maxOutputBytes: 160 * KiB, maxFinishedProcesses: 4 } });
    const print = ['-c', 'yes "$(head -c 999 /dev/zero | tr "\\0" x)" | head -n 100'];
    const first = await runToExit(e, 'sh', print);
    const firstOut = await call(e, `/api/v1/processes/${first}/stdout`);
    expect(firstOut.body.line_count).toBe(100);
    expect(firstOut.headers.get('x-sandbox-procs-dropped-lines')).toBe('0');
    expect(firstOut.headers.get('x-sandbox-procs-truncated-lines')).toBe('0');

    const later: number[] = [];
    for (let i = 0; i < 3; i++) later.push(await runToExit(e, 'sh', print));
    // The first to finish lost its output first; the newest kept all of it.
    const gone = await call(e, `/api/v1/processes/${first}/stdout`);
    expect(gone.body).toMatchObject({ lines: [], line_count: 0 });
    expect(gone.headers.get('x-sandbox-procs-dropped-lines')).toBe('100');
    expect((await call(e, `/api/v1/processes/${first}`)).status).toBe(200);
    const newest = await call(e, `/api/v1/processes/${later.at(-1)}/stdout`);
    expect(newest.body.line_count).toBe(100);
    expect(newest.headers.get('x-sandbox-procs-dropped-lines')).toBe('0');

    // Beyond maxFinishedProcesses, the oldest record goes: not found, and its output reads as the daemon's empty log, with the count in the header.
    await runToExit(e, 'true', []);
    expect((await call(e, `/api/v1/processes/${first}`)).status).toBe(404);
    const forgotten = await call(e, `/api/v1/processes/${first}/stdout`);
    expect(forgotten.status).toBe(200);
    expect(forgotten.body).toEqual({ pid: first, lines: [], line_count: 0 });
    expect(forgotten.headers.get('x-sandbox-procs-dropped-lines')).toBe('100');
    const listed = (await call(e, '/api/v1/processes')).body.processes.map((p: { pid: number }) => p.pid);
    expect(listed).not.toContain(first);
    expect(listed).toContain(later.at(-1));
  });

  it('says in headers how many lines were dropped and cut, and keeps the body to real output', async () => {
    const e = await emulator('tensorlake', { limits: { maxLinesPerProcess: 3, maxLineLength: 10 } });
    const pid = await runToExit(e, 'sh', ['-c', 'printf "1\\n2\\n3\\n4\\n0123456789abcdef\\n"']);
    const out = await call(e, `/api/v1/processes/${pid}/stdout`);
    expect(out.body).toEqual({ pid, lines: ['3', '4', '0123456789'], line_count: 3 });
    expect(out.headers.get('x-sandbox-procs-dropped-lines')).toBe('2');
    expect(out.headers.get('x-sandbox-procs-truncated-lines')).toBe('1');
    const follow = await fetch(`${e.baseUrl}/api/v1/processes/${pid}/stdout/follow`, { headers: { Authorization: `Bearer ${e.token}` } });
    expect(follow.headers.get('x-sandbox-procs-dropped-lines')).toBe('2');
    const events = await follow.text();
    expect(events).toContain('"line":"0123456789"');
    expect(events).not.toContain('"line":"1"');
  });

  it('refuses a stdin write with the declared 400 while the process leaves what it was sent unread', async () => {
    // Unconfined: the budget is the supervisor's, the same in every mode, and a confined process's stdin
    // passes the sandbox's spawner, whose pipe to the process holds a size this test cannot know.
    const e = await emulator('tensorlake', { isolation: 'none', limits: { maxStdinQueueBytes: 64 * KiB } });
    const started = await call(e, '/api/v1/processes', { method: 'POST', json: { command: 'sleep', args: ['30'], stdin_mode: 'pipe' } });
    const pid = started.body.pid as number;
    const write = (bytes: number) =>
      fetch(`${e.baseUrl}/api/v1/processes/${pid}/stdin`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${e.token}`, 'content-type': 'application/octet-stream' },
        body: new Uint8Array(bytes),
        signal: AbortSignal.timeout(15_000),
      });
    // The pipe takes what its buffer holds; the rest of this write waits in the queue, and so does its answer.
    const pending = write(512 * KiB);
    // Empty writes until the big one is queued (when it arrives depends on the machine's load): they add nothing to the queue, so cannot refuse it.
    let refused = await write(0);
    for (let tries = 0; refused.status === 204 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      refused = await write(0);
    }
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: string; code: string };
    expect(body).toMatchObject({ code: 'STDIN_NOT_WRITABLE' });
    expect(body.error).toMatch(/stdin is full/);
    // Killing the process ends the waiting write with the same declared answer.
    expect((await call(e, `/api/v1/processes/${pid}`, { method: 'DELETE' })).status).toBe(204);
    expect((await pending).status).toBe(400);
  });
});

describe('the memory budget (hopx)', () => {
  it('bounds the output embedded in the list, keeping each entry\'s newest lines, and says how many it left out', async () => {
    const e = await emulator('hopx', { limits: { maxListOutputBytes: 4 * KiB } });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const started = await call(e, '/commands/background', { method: 'POST', json: { command: `seq 1 2000; echo done-${i}` } });
      expect(started.status).toBe(200);
      ids.push(started.body.process_id as string);
    }
    const deadline = Date.now() + 20_000;
    let list = await call(e, '/execute/processes');
    while (list.body.processes.some((p: { status: string }) => p.status === 'running') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      list = await call(e, '/execute/processes');
    }
    const entries = list.body.processes as Array<{ process_id: string; stdout: string }>;
    expect(entries.map((p) => p.process_id).sort()).toEqual([...ids].sort());
    const embedded = entries.reduce((sum, p) => sum + Buffer.byteLength(p.stdout), 0);
    expect(embedded).toBeLessThanOrEqual(4 * KiB);
    for (const [i, p] of entries.entries()) {
      expect(p.stdout.endsWith(`done-${ids.indexOf(p.process_id)}\n`), `entry ${i}`).toBe(true);
      expect(p.stdout.length).toBeGreaterThan(500);
    }
    const omitted = Number(list.headers.get('x-sandbox-procs-dropped-lines'));
    const shown = entries.reduce((sum, p) => sum + p.stdout.split('\n').length - 1, 0);
    expect(omitted + shown).toBe(4 * 2001);
  });

  it('forgets a background entry whose record was evicted', async () => {
    const e = await emulator('hopx', { limits: { maxFinishedProcesses: 2 } });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const run = await call(e, '/commands/background', { method: 'POST', json: { command: `echo ${i}` } });
      ids.push(run.body.process_id as string);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const list = await call(e, '/execute/processes');
        if (list.body.processes.every((p: { status: string }) => p.status !== 'running')) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const listed = (await call(e, '/execute/processes')).body.processes.map((p: { process_id: string }) => p.process_id);
    expect(listed).toEqual(ids.slice(2));
  });
});
