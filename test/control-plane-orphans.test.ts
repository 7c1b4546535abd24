// No orphan from a control plane either: `emulate --control-plane` with a
// process running in each of two sandboxes, killed by SIGKILL (no handler
// runs) or SIGTERM, leaves none of them behind. Each sandbox's emulator has
// its own reaper and per-instance marks; this checks them end to end, through
// the built bin, with the requests an SDK sends.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { ProviderName } from '../src/errors.js';
import { EMULATOR_MARKER, EMULATOR_RUN_MARKER } from '../src/emulator/reaper.js';
import { emulatorChildrenOfRun, isAlive, waitFor } from './support/processes.js';

const bin = join(import.meta.dirname, '..', 'dist', 'src', 'bin.js');
const linux = process.platform === 'linux';
let sequence = 0;
const marked = (run: string) => emulatorChildrenOfRun(EMULATOR_MARKER, EMULATOR_RUN_MARKER, run);

/** A JSON request over node:http, so that a Host header can be set (Tensorlake's proxy routes by it). */
function send(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(url, { method, headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Creates a sandbox through the control plane and starts `sleep 300` in it, as each SDK would; its pid. */
const sleepInNewSandbox: Record<ProviderName, (baseUrl: string, key: string) => Promise<{ pid: number; pause: () => Promise<void> }>> = {
  async hopx(baseUrl, key) {
    const created = await send(`${baseUrl}/v1/sandboxes`, 'POST', { 'x-api-key': key }, { template_name: 'code-interpreter' });
    expect(created.status).toBe(201);
    const started = await send(`${created.json.public_host}/commands/background`, 'POST', { authorization: `Bearer ${created.json.auth_token}` }, { command: 'sleep', args: ['300'] });
    expect(started.status).toBe(200);
    const list = await send(`${created.json.public_host}/processes`, 'GET', { authorization: `Bearer ${created.json.auth_token}` });
    const sleeper = (list.json.processes as Array<{ pid: number; command: string }>).find((p) => p.command.startsWith('sleep'));
    const pause = async () => expect((await send(`${baseUrl}/v1/sandboxes/${created.json.sandbox_id}/pause`, 'POST', { 'x-api-key': key })).status).toBe(200);
    return { pid: sleeper!.pid, pause };
  },
  async tensorlake(baseUrl, key) {
    const auth = { authorization: `Bearer ${key}` };
    // Named: only a named sandbox can be suspended.
    const created = await send(`${baseUrl}/v1/namespaces/default/sandboxes`, 'POST', auth, { name: `orphans-${randomBytes(4).toString('hex')}`, resources: { cpus: 1, memory_mb: 512 } });
    expect(created.status).toBe(200);
    const started = await send(`${baseUrl}/api/v1/processes`, 'POST', { ...auth, host: `${created.json.sandbox_id}.local` }, { command: 'sleep', args: ['300'] });
    expect(started.status).toBe(201);
    const pause = async () => expect((await send(`${baseUrl}/v1/namespaces/default/sandboxes/${created.json.sandbox_id}/suspend`, 'POST', auth)).status).toBe(200);
    return { pid: started.json.pid as number, pause };
  },
};

const owners: Array<{ kill: () => void; run: string }> = [];
afterEach(async () => {
  for (const owner of owners.splice(0)) {
    owner.kill();
    await waitFor(() => marked(owner.run).length === 0, 3_000);
    for (const pid of marked(owner.run)) process.kill(pid, 'SIGKILL');
  }
});

describe.runIf(linux).each(['hopx', 'tensorlake'] as const)('%s control plane: no orphans', (provider) => {
  it.each([
    ['SIGKILL', 'running'],
    ['SIGTERM', 'running'],
    ['SIGKILL', 'paused'],
    ['SIGTERM', 'paused'],
  ] as const)('after %s of emulate --control-plane, no sandbox process is left (one sandbox %s)', async (signal, state) => {
    const run = `${inject('emulatorRun')}.control-plane-${provider}-${++sequence}`;
    const key = `cp_${randomBytes(8).toString('hex')}`;
    const child = spawn(process.execPath, [bin, 'emulate', '--provider', provider, '--control-plane', '--token-env', 'CP_KEY'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', CP_KEY: key, [EMULATOR_RUN_MARKER]: run },
    });
    owners.push({ kill: () => child.kill('SIGKILL'), run });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c));
    child.stderr.on('data', (c: Buffer) => (output += c));
    expect(await waitFor(() => /listening on http:\S+/.test(output), 15_000), output).toBe(true);
    const baseUrl = /listening on (http:\S+)/.exec(output)![1]!;

    const first = await sleepInNewSandbox[provider](baseUrl, key);
    await sleepInNewSandbox[provider](baseUrl, key);
    // Frozen (cgroup freezer or SIGSTOP): a frozen process takes a signal only once thawed, which its ending must see to.
    if (state === 'paused') await first.pause();
    // Found by their marks, as the host sees them: the PIDs the API gives are the sandbox's own when it is confined (the default where bwrap works).
    const sleepers = marked(run);
    expect(sleepers).toHaveLength(2);

    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
    expect(await waitFor(() => sleepers.every((pid) => !isAlive(pid)) && marked(run).length === 0, 5_000), `left: ${marked(run).join(', ')}`).toBe(true);
  }, 60_000);
});
