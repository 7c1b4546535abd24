// Connecting to a HopX sandbox by its ID with the API key only, against the
// emulator's control plane with agent tokens that live 2 s (`emulate --token-ttl 2`):
// calls over several token lifetimes, one after another and 64 at once, surface no
// error, and the emulator counts one renewal per expiry (not one per call); a token
// that expired before the client expected it is renewed once on the agent's 401
// TOKEN_EXPIRED, for every call that saw it. Neither the key nor a token is in any
// error. The official SDK and our client connect to each other's sandboxes.
import { Sandbox } from '@hopx-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { connectHopxSandbox, createHopxControlClient, NotFoundError, type HopxControlClient } from '../src/index.js';
import type { RunningHopxControlPlane } from '../src/providers/hopx/emulator/control-plane.js';
import { renderings, testKey } from './support/secrets.js';

const TTL_SECONDS = 2;
const CALLS = 200;
const SPREAD_MS = 10_000;
/** base64url of `{"alg":"HS256","typ":"JWT"}`: the start of every agent token the emulator signs. */
const JWT_HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

let controlPlane: RunningHopxControlPlane;
let control: HopxControlClient;
let apiKey: string;

beforeAll(async () => {
  apiKey = testKey('hopx-connect');
  controlPlane = (await startEmulator('hopx', { controlPlane: true, token: apiKey, tokenTtlSeconds: TTL_SECONDS })) as RunningHopxControlPlane;
  control = createHopxControlClient({ apiKey, baseUrl: controlPlane.baseUrl });
});
afterAll(async () => {
  await control?.close();
  await controlPlane?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const leaks = (error: unknown) => renderings(error).filter((text) => text.includes(apiKey) || text.includes(JWT_HEADER));

/** `CALLS` calls spread over SPREAD_MS by `lanes` lanes at once; every failure kept. */
async function callsOver(lanes: number, call: () => Promise<unknown>): Promise<unknown[]> {
  const failures: unknown[] = [];
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      for (let n = next++; n < CALLS; n = next++) {
        const due = started + (n * SPREAD_MS) / CALLS;
        if (due > Date.now()) await sleep(due - Date.now());
        await call().catch((error: unknown) => failures.push(error));
      }
    }),
  );
  return failures;
}

describe('connectHopxSandbox: by sandbox ID, with a token that renews itself', () => {
  it.each([
    ['one after another', 1],
    ['64 in flight', 64],
  ])('%s: 200 calls over 10 s (five token lifetimes), no error, one renewal per expiry counted at the emulator', async (_name, lanes) => {
    const created = await control.createSandbox({ template_name: 'code-interpreter' });
    const sandboxId = created.sandbox_id;
    await using client = await connectHopxSandbox({ apiKey, sandboxId, controlPlaneUrl: controlPlane.baseUrl });
    expect(client.publicHost).toBe(created.public_host);
    const started = Date.now();
    const failures = await callsOver(lanes, () => client.getEnv());
    const elapsed = Date.now() - started;
    expect(failures).toEqual([]);

    const refreshes = controlPlane.tokenRefreshes(sandboxId);
    expect(refreshes).toBe(client.tokenRenewals);
    // The first token, then one renewal per lifetime (renewed at 90% of it): never one per call or per lane.
    const lifetimes = elapsed / (TTL_SECONDS * 1000 * 0.9);
    expect(refreshes).toBeGreaterThanOrEqual(Math.floor(elapsed / (TTL_SECONDS * 1000)));
    expect(refreshes).toBeLessThanOrEqual(Math.ceil(lifetimes) + 1);
    await control.deleteSandbox(sandboxId);
  }, 30_000);

  it('renews once on a 401 TOKEN_EXPIRED that 16 calls in flight all got, and sends each again', async () => {
    const created = await control.createSandbox({ template_name: 'code-interpreter' });
    // The client is told the token lives an hour: only the agent's 401 can tell it otherwise.
    const known = { ...created, token_expires_at: new Date(Date.now() + 3_600_000).toISOString() };
    await using client = await connectHopxSandbox({ apiKey, sandboxId: created.sandbox_id, control, known });
    expect(await client.getEnv()).toBeDefined();
    await sleep(Date.parse(created.token_expires_at!) - Date.now() + 50);
    const results = await Promise.allSettled(Array.from({ length: 16 }, () => client.getEnv()));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(controlPlane.tokenRefreshes(created.sandbox_id)).toBe(1);
    expect(client.tokenRenewals).toBe(1);
    await control.deleteSandbox(created.sandbox_id);
  });

  it('puts neither the API key nor a token in an error, from the agent or the control plane', async () => {
    const created = await control.createSandbox({ template_name: 'code-interpreter' });
    await using client = await connectHopxSandbox({ apiKey, sandboxId: created.sandbox_id, controlPlaneUrl: controlPlane.baseUrl });
    const agentError = await client.killProcess('proc_none').catch((error: unknown) => error);
    expect(agentError).toBeInstanceOf(NotFoundError);
    expect(leaks(agentError)).toEqual([]);
    const missing = await connectHopxSandbox({ apiKey, sandboxId: 'sbx_missing', controlPlaneUrl: controlPlane.baseUrl }).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(leaks(missing)).toEqual([]);
    await control.deleteSandbox(created.sandbox_id);
  });
});

describe('with the official SDK (@hopx-ai/sdk), both ways', () => {
  it('connects by ID to a sandbox the SDK created, and the SDK connects to one our client created', async () => {
    const theirs = await Sandbox.create({ template: 'code-interpreter', apiKey, baseURL: controlPlane.baseUrl });
    try {
      await using ours = await connectHopxSandbox({ apiKey, sandboxId: theirs.sandboxId, controlPlaneUrl: controlPlane.baseUrl });
      expect(await ours.runCode({ code: 'print(6 * 7)', language: 'python' })).toMatchObject({ success: true, stdout: '42\n' });
    } finally {
      await theirs.kill();
    }

    const created = await control.createSandbox({ template_name: 'code-interpreter' });
    const connected = await Sandbox.connect(created.sandbox_id, apiKey, controlPlane.baseUrl);
    expect(await connected.runCode('print(6 * 7)')).toMatchObject({ success: true, stdout: '42\n' });
    await control.deleteSandbox(created.sandbox_id);
    await expect(control.getSandbox(created.sandbox_id)).rejects.toBeInstanceOf(NotFoundError);
  });
});
