// The agent tokens HopX's control plane hands out: JWTs (HS256) that expire. Each
// sandbox signs with a secret of its own, so a token of one sandbox is refused by
// every other, and a token stays checkable after it expires (the agent then says
// it expired rather than that it is unknown), with nothing stored per token.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthRefusal } from '../../../emulator/http.js';

/**
 * The lifetime of an agent token when none is asked for: a day. No source states
 * HopX's: the Python SDK's token cache shows `expires = now + timedelta(hours=24)`
 * (hopx-ai/hopx: python/hopx_ai/_token_cache.py:32), and both SDKs refresh a token
 * once it has less than an hour left (python/hopx_ai/sandbox.py:409-413,
 * @hopx-ai/sdk dist/index.js:2375-2385). Marked `x-inferred` in specs/hopx-control.yaml.
 */
export const DEFAULT_TOKEN_TTL_SECONDS = 86_400;

/**
 * What the agent answers a token that has expired: 401 with code TOKEN_EXPIRED, the
 * code the JS SDK turns into TokenExpiredError (hopx-ai/hopx: javascript/src/client.ts:193,
 * errors.ts:40); its message says "token expired", which the SDK also looks for.
 * The real agent's body is not in any source: inferred (specs/hopx.yaml, Unauthorized).
 */
export const EXPIRED_TOKEN: AuthRefusal = { message: 'token expired: refresh it with POST /v1/sandboxes/{id}/token/refresh', code: 'TOKEN_EXPIRED' };
const INVALID_TOKEN: AuthRefusal = { message: 'missing or invalid bearer token', code: 'AUTHENTICATION_REQUIRED' };

const base64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');
const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export interface IssuedToken {
  auth_token: string;
  token_expires_at: string;
}

export interface AgentTokens {
  /** A fresh token for `sandboxId`, valid for the configured lifetime. */
  issue(sandboxId: string): IssuedToken;
  /** The agent's check of an Authorization header: undefined when it is good, else why not. */
  check(authorization: string | undefined): AuthRefusal | undefined;
}

export function createAgentTokens(ttlSeconds: number = DEFAULT_TOKEN_TTL_SECONDS): AgentTokens {
  const secret = randomBytes(32);
  const sign = (data: string) => createHmac('sha256', secret).update(data).digest();
  return {
    issue(sandboxId) {
      const now = Date.now();
      const expiresAt = now + ttlSeconds * 1000;
      // exp in seconds with a fraction (a JWT NumericDate may have one): a 2 s lifetime stays 2 s.
      const payload = base64url(JSON.stringify({ sub: sandboxId, iat: now / 1000, exp: expiresAt / 1000, jti: randomBytes(8).toString('hex') }));
      const signed = `${HEADER}.${payload}`;
      return { auth_token: `${signed}.${base64url(sign(signed))}`, token_expires_at: new Date(expiresAt).toISOString() };
    },
    check(authorization) {
      const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
      const parts = token?.split('.');
      if (!parts || parts.length !== 3 || parts[0] !== HEADER) return INVALID_TOKEN;
      const expected = sign(`${parts[0]}.${parts[1]}`);
      const given = Buffer.from(parts[2]!, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return INVALID_TOKEN;
      const { exp } = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp: number };
      return Date.now() >= exp * 1000 ? EXPIRED_TOKEN : undefined;
    },
  };
}
