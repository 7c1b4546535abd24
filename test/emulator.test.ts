// The emulators as servers: auth, limits, isolation, real state, and a clean stop.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SpecValidator } from '../src/contract/validate.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../src/emulator/index.js';
import { createHopxClient, createTensorlakeClient, RateLimitError, ServerError, waitForExit, type ProviderName, type SandboxProcesses } from '../src/index.js';
import { childrenOf, isAlive, processesWithEnvPrefix, waitFor } from './support/processes.js';
import { EMULATOR_MARKER } from '../src/emulator/reaper.js';

const running: RunningEmulator[] = [];
async function emulator(provider: ProviderName, options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const started = await startEmulator(provider, options);
  running.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
});

async function raw(e: RunningEmulator, path: string, init: RequestInit = {}) {
  const response = await fetch(`${e.baseUrl}${path}`, init);
  return { status: response.status, contentType: response.headers.get('content-type'), bodyText: await response.text() };
}

const auth = (e: RunningEmulator) => ({ Authorization: `Bearer ${e.token}` });

describe('serving', () => {
  it('listens on 127.0.0.1, on a free port by default or the one asked for', async () => {
    const a = await emulator('tensorlake');
    expect(a.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(a.baseUrl).port) + 1;
    const b = await emulator('hopx', { port }).catch(() => undefined);
    if (b) expect(b.baseUrl).toBe(`http://127.0.0.1:${port}`);
  });

  it.each([
    ['tensorlake', '/api/v1/processes', 'sandbox_process_list'],
    ['hopx', '/execute/processes', 'list_processes'],
  ] as const)('%s answers a missing or wrong token with the spec\'s 401', async (provider, path, operation) => {
    const e = await emulator(provider, { token: 'right-token' });
    const validator = new SpecValidator(provider);
    for (const headers of [{}, { Authorization: 'Bearer wrong-token' }, { Authorization: 'right-token' }] as Record<string, string>[]) {
      const response = await raw(e, path, { headers });
      expect(response.status).toBe(401);
      expect(validator.check(operation, response)).toEqual([]);
    }
    expect((await raw(e, path, { headers: { Authorization: 'Bearer right-token' } })).status).toBe(200);
  });

  it('serves HopX /health without credentials', async () => {
    const e = await emulator('hopx');
    expect(await raw(e, '/health')).toMatchObject({ status: 200, bodyText: expect.stringContaining('healthy') });
  });

  it('answers unknown ids with the documented 404 bodies', async () => {
    const t = await emulator('tensorlake');
    const h = await emulator('hopx');
    const tl = await raw(t, '/api/v1/processes/99999999', { headers: auth(t) });
    expect(tl.status).toBe(404);
    expect(JSON.parse(tl.bodyText)).toEqual({ error: 'Process 99999999 not found', code: 'NOT_FOUND' });
    const hx = await raw(h, '/execute/kill', { method: 'DELETE', headers: { ...auth(h), 'content-type': 'application/json' }, body: '{"process_id":"proc_nope"}' });
    expect(hx.status).toBe(404);
    expect(JSON.parse(hx.bodyText)).toMatchObject({ error: 'Process not found', code: 'RESOURCE_NOT_FOUND' });
    // Not a PID: a managed name, and no process has it.
    expect((await raw(t, '/api/v1/processes/abc', { headers: auth(t) })).status).toBe(404);
  });

  it.each([
    ['tensorlake', '/api/v1/processes', 'sandbox_process_start', 413, /length limit exceeded/],
    ['hopx', '/execute', 'execute_code', 400, /exceeds 64 bytes/],
  ] as const)('%s refuses a request body over the limit with its declared %s', async (provider, path, operation, status, message) => {
    const e = await emulator(provider, { maxBodyBytes: 64 });
    const response = await raw(e, path, {
      method: 'POST',
      headers: { ...auth(e), 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'echo', code: 'x', args: ['x'.repeat(200)] }),
    });
    expect(response).toMatchObject({ status, bodyText: expect.stringMatching(message) });
    expect(new SpecValidator(provider).check(operation, response)).toEqual([]);
  });

  // As the daemon's axum extractors do: plain text, 422 for a missing field, 400 for broken JSON, 415 for another type.
  it.each([
    [422, 'application/json', '{"args":[]}', /missing|required/],
    [400, 'application/json', '{"command": ', /parse the request body as JSON/],
    [415, 'text/plain', 'command=ls', /Content-Type: application\/json/],
  ] as const)('refuses a bad Tensorlake body with %i in plain text, before running anything', async (status, contentType, body, message) => {
    const e = await emulator('tensorlake');
    const response = await raw(e, '/api/v1/processes', { method: 'POST', headers: { ...auth(e), 'content-type': contentType }, body });
    expect(response).toMatchObject({ status, contentType: expect.stringMatching(/^text\/plain/), bodyText: expect.stringMatching(message) });
    expect(new SpecValidator('tensorlake').check('sandbox_process_start', response)).toEqual([]);
    expect(JSON.parse((await raw(e, '/api/v1/processes', { headers: auth(e) })).bodyText)).toEqual({ processes: [] });
  });

  it('refuses a HopX request that breaks the spec with its JSON 400', async () => {
    const e = await emulator('hopx');
    const response = await raw(e, '/execute/kill', { method: 'DELETE', headers: { ...auth(e), 'content-type': 'application/json' }, body: '{"process_id":5}' });
    expect(response.status).toBe(400);
    expect(new SpecValidator('hopx').check('kill_process', response)).toEqual([]);
  });
});

describe('processes', () => {
  // Tensorlake answers 500 "not running", HopX 404: the neutral interface hears "already gone" in both.
  it.each(['tensorlake', 'hopx'] as const)('%s: the neutral kill() of a process that has exited resolves false', async (provider) => {
    const e = await emulator(provider);
    const options = { apiKey: e.token, baseUrl: e.baseUrl };
    const processes: SandboxProcesses = provider === 'tensorlake' ? createTensorlakeClient(options).processes : createHopxClient(options).processes;
    const started = await processes.start({ command: 'true' });
    await waitForExit(processes, started.id, { timeoutMs: 10_000 });
    expect(await processes.kill(started.id)).toBe(false);
    const running = await processes.start({ command: 'sleep', args: ['30'] });
    expect(await processes.kill(running.id)).toBe(true);
  });

  it('caps the number of running processes, answering a retryable 429', async () => {
    const e = await emulator('tensorlake', { limits: { maxRunning: 2 } });
    const client = createTensorlakeClient({ apiKey: e.token, baseUrl: e.baseUrl, retry: { maxRetries: 0 } });
    await client.startProcess({ command: 'sleep', args: ['30'] });
    await client.startProcess({ command: 'sleep', args: ['30'] });
    const error = await client.startProcess({ command: 'sleep', args: ['30'] }).catch((x: unknown) => x);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 1_000 });
    expect((error as Error).message).toMatch(/too many running processes \(limit 2\)/);
  });

  it('keeps at most the configured number of output lines, the newest', async () => {
    const e = await emulator('tensorlake', { limits: { maxLinesPerProcess: 5 } });
    const client = createTensorlakeClient({ apiKey: e.token, baseUrl: e.baseUrl });
    const { pid } = await client.startProcess({ command: 'seq', args: ['1', '20'] });
    await waitForExit(client.processes, pid);
    expect(await client.getStdout(pid)).toEqual({ pid, lines: ['16', '17', '18', '19', '20'], line_count: 5 });
  });

  it('gives children only the environment asked for, never the emulator\'s own', async () => {
    process.env.SANDBOX_PROCS_TEST_SECRET = 'do-not-leak';
    try {
      const e = await emulator('hopx');
      const client = createHopxClient({ apiKey: e.token, baseUrl: e.baseUrl });
      const result = await client.runCode({ code: 'echo "[$SANDBOX_PROCS_TEST_SECRET][$ASKED]"', language: 'bash', env: { ASKED: 'yes' } });
      expect(result.stdout).toBe('[][yes]\n');
    } finally {
      delete process.env.SANDBOX_PROCS_TEST_SECRET;
    }
  });

  it('pipes stdin to a real process and shows its output', async () => {
    const e = await emulator('tensorlake');
    const client = createTensorlakeClient({ apiKey: e.token, baseUrl: e.baseUrl });
    const { pid, stdin_writable } = await client.startProcess({ command: 'cat', stdin_mode: 'pipe' });
    expect(stdin_writable).toBe(true);
    await client.writeStdin(pid, 'first\n');
    await client.writeStdin(pid, new TextEncoder().encode('second\n'));
    await client.closeStdin(pid);
    expect(await waitForExit(client.processes, pid)).toMatchObject({ status: 'exited', exitCode: 0 });
    expect((await client.getStdout(pid)).lines).toEqual(['first', 'second']);
    await expect(client.writeStdin(pid, 'late')).rejects.toMatchObject({ status: 400, code: 'STDIN_NOT_WRITABLE' });
  });

  it('moves a signaled process to "signaled" with its signal number', async () => {
    const e = await emulator('tensorlake');
    const client = createTensorlakeClient({ apiKey: e.token, baseUrl: e.baseUrl });
    const { pid } = await client.startProcess({ command: 'sleep', args: ['30'] });
    expect(await client.sendSignal(pid, 15)).toEqual({ success: true });
    await waitForExit(client.processes, pid);
    expect(await client.getProcess(pid)).toMatchObject({ status: 'signaled', signal: 15, exit_code: null });
    await expect(client.sendSignal(pid, 15)).rejects.toMatchObject({ status: 400 });
  });

  it('runs HopX code through the local interpreter, or answers 500 when it is not installed', async () => {
    const e = await emulator('hopx');
    const client = createHopxClient({ apiKey: e.token, baseUrl: e.baseUrl });
    const installed = (command: string) => {
      try {
        execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    };
    const cases = [
      { language: 'bash', command: 'bash', code: 'echo hi' },
      { language: 'javascript', command: 'node', code: 'console.log("hi")' },
      { language: 'python', command: 'python3', code: 'print("hi")' },
      { language: 'go', command: 'go', code: 'package main\nimport "fmt"\nfunc main() { fmt.Println("hi") }' },
    ] as const;
    for (const { language, command, code } of cases) {
      const outcome = await client.runCode({ code, language }).catch((x: unknown) => x);
      if (installed(command) || language === 'javascript') expect(outcome).toMatchObject({ success: true, stdout: 'hi\n' });
      else expect(outcome).toMatchObject({ status: 500, code: 'EXECUTION_FAILED' });
    }
  });

  it('stops every process it started, and removes its working directory, on stop()', async () => {
    const e = await startEmulator('tensorlake');
    const client = createTensorlakeClient({ apiKey: e.token, baseUrl: e.baseUrl });
    await Promise.all([1, 2, 3].map(() => client.startProcess({ command: 'sleep', args: ['30'] })));
    await client.startProcess({ command: 'bash', args: ['-c', 'sleep 30 & wait'] });
    // By their marks, as the host sees them (in the default mode, confined where bwrap works, the API's PIDs are the sandbox's own):
    // three sleeps, the shell and its child, which inherited the mark.
    const mine = () => processesWithEnvPrefix(EMULATOR_MARKER, `${e.id}/`);
    let all: number[] = [];
    expect(await waitFor(() => (all = mine()).length === 5, 5_000)).toBe(true);
    expect(existsSync(e.workdir)).toBe(true);
    await e.stop();
    expect(await waitFor(() => all.every((pid) => !isAlive(pid)), 5_000)).toBe(true);
    await expect(fetch(e.baseUrl)).rejects.toThrow();
    expect(existsSync(e.workdir)).toBe(false);
  });
});
