// HopX agent tokens expire, as the control plane says they do: the emulator's
// control plane hands out tokens that live `tokenTtlSeconds` (`emulate --token-ttl`),
// the agent answers a token past its token_expires_at with 401 TOKEN_EXPIRED (the
// code the SDK turns into TokenExpiredError) and a token of another sandbox with
// 401 AUTHENTICATION_REQUIRED, and every refresh is counted. Every exchange here is
// checked against specs/hopx.yaml and specs/hopx-control.yaml.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpecValidator } from '../src/contract/validate.js';
import { main, type Io } from '../src/cli.js';
import { startEmulator } from '../src/emulator/index.js';
import type { RunningHopxControlPlane } from '../src/providers/hopx/emulator/control-plane.js';
import { loadSpec } from '../src/specs.js';
import { testKey } from './support/secrets.js';

const agentValidator = new SpecValidator('hopx');
const controlValidator = new SpecValidator('hopx', loadSpec('hopx-control'));
const TTL_SECONDS = 1;

let controlPlane: RunningHopxControlPlane;
let apiKey: string;

beforeAll(async () => {
  apiKey = testKey('hopx-ttl');
  controlPlane = (await startEmulator('hopx', { controlPlane: true, token: apiKey, tokenTtlSeconds: TTL_SECONDS })) as RunningHopxControlPlane;
});
afterAll(async () => {
  await controlPlane?.stop();
});

/** The breaking findings of a response against the spec (warnings, such as an extra field, are not this test's concern). */
async function breaking(validator: SpecValidator, operation: string, response: Response) {
  const bodyText = await response.text();
  const findings = validator.check(operation, { status: response.status, contentType: response.headers.get('content-type'), bodyText });
  return { findings: findings.filter((f) => f.severity === 'breaking'), json: JSON.parse(bodyText) as Record<string, string> };
}

async function control(method: string, path: string, operation: string, body?: unknown) {
  const response = await fetch(`${controlPlane.baseUrl}${path}`, {
    method,
    headers: { 'x-api-key': apiKey, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const { findings, json } = await breaking(controlValidator, operation, response);
  expect(findings).toEqual([]);
  return json;
}

async function health(publicHost: string, token: string) {
  const response = await fetch(`${publicHost}/env`, { headers: { authorization: `Bearer ${token}` } });
  const { findings, json } = await breaking(agentValidator, 'get_env', response);
  expect(findings).toEqual([]);
  return { status: response.status, json };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('HopX control plane: agent tokens that expire (tokenTtlSeconds)', () => {
  it('hands out a token with token_expires_at one lifetime ahead, which the agent takes until then and refuses after with 401 TOKEN_EXPIRED', async () => {
    const before = Date.now();
    const created = await control('POST', '/v1/sandboxes', 'createSandbox', { template_name: 'code-interpreter' });
    const expiresAt = Date.parse(created.token_expires_at!);
    expect(expiresAt).toBeGreaterThanOrEqual(before + TTL_SECONDS * 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + TTL_SECONDS * 1000);
    expect((await health(created.public_host!, created.auth_token!)).status).toBe(200);

    await sleep(Math.max(0, expiresAt - Date.now()) + 20);
    const expired = await health(created.public_host!, created.auth_token!);
    expect(expired.status).toBe(401);
    expect(expired.json.code).toBe('TOKEN_EXPIRED');
    expect(expired.json.error).toMatch(/token expired/);
    expect(controlPlane.tokenRefreshes(created.id!)).toBe(0);

    const refreshed = await control('POST', `/v1/sandboxes/${created.id}/token/refresh`, 'refreshSandboxToken');
    expect(refreshed.auth_token).not.toBe(created.auth_token);
    expect((await health(created.public_host!, refreshed.auth_token!)).status).toBe(200);
    expect(controlPlane.tokenRefreshes(created.id!)).toBe(1);
    expect((await fetch(`${controlPlane.baseUrl}/v1/sandboxes/${created.id}`, { method: 'DELETE', headers: { 'x-api-key': apiKey } })).status).toBe(200);
  });

  it("refuses another sandbox's token, a tampered one and none with 401 AUTHENTICATION_REQUIRED, not TOKEN_EXPIRED", async () => {
    const a = await control('POST', '/v1/sandboxes', 'createSandbox', { template_name: 'code-interpreter' });
    const b = await control('POST', '/v1/sandboxes', 'createSandbox', { template_name: 'code-interpreter' });
    const [header, payload, signature] = a.auth_token!.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as { exp: number };
    const extended = Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 3600 })).toString('base64url');
    for (const token of [b.auth_token!, `${header}.${extended}.${signature}`, '']) {
      const refused = await health(a.public_host!, token);
      expect(refused.status).toBe(401);
      expect(refused.json.code).toBe('AUTHENTICATION_REQUIRED');
    }
    expect((await health(a.public_host!, a.auth_token!)).status).toBe(200);
  });

  it('lives a day by default (inferred from the SDKs: see specs/hopx-control.yaml)', async () => {
    const daily = await startEmulator('hopx', { controlPlane: true, token: apiKey });
    try {
      const response = await fetch(`${daily.baseUrl}/v1/sandboxes`, {
        method: 'POST',
        headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ template_name: 'code-interpreter' }),
      });
      const created = (await response.json()) as { token_expires_at: string };
      const lifetime = Date.parse(created.token_expires_at) - Date.now();
      expect(lifetime).toBeGreaterThan(86_400_000 - 60_000);
      expect(lifetime).toBeLessThanOrEqual(86_400_000);
    } finally {
      await daily.stop();
    }
  });
});

describe('emulate --token-ttl', () => {
  const capture = (): Io & { text: () => string } => {
    let text = '';
    return { out: (t) => (text += t), err: (t) => (text += t), color: false, text: () => text };
  };
  it.each([
    [['--provider', 'hopx', '--token-ttl', '2'], /--token-ttl needs --control-plane and --provider hopx/],
    [['--provider', 'tensorlake', '--control-plane', '--token-ttl', '2'], /--token-ttl needs --control-plane and --provider hopx/],
    [['--provider', 'hopx', '--control-plane', '--token-ttl', '0'], /--token-ttl must be a positive whole number/],
  ])('refuses %j with a usage error (exit 2) before starting anything', async (args, message) => {
    const io = capture();
    expect(await main(['emulate', ...args], io)).toBe(2);
    expect(io.text()).toMatch(message);
  });
});
