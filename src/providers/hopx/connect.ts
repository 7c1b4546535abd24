// A HopX sandbox reached from its ID and the account's API key, as HopX's SDK does
// it: the control plane gives the agent's address (`public_host`) and its token,
// which expires; the client renews it before `token_expires_at` and once after a
// 401 that says it expired, one renewal for every call in flight.
import type { ClientOptions } from '../../core/options.js';
import { createTokenKeeper, type ExpiringToken } from '../../core/token-keeper.js';
import { UnexpectedResponseError, ValidationError } from '../../errors.js';
import { hopxClientWith, type HopxClient, type HopxClientOptions } from './client.js';
import { createHopxControlClient, type HopxAgentToken, type HopxControlClient, type HopxSandboxInfo } from './control-client.js';

/** The options of connectHopxSandbox. */
export interface HopxConnectOptions extends Omit<HopxClientOptions, 'baseUrl' | 'sandbox'> {
  /** The account's API key: sent to the control plane only (X-API-Key), never to the agent. */
  apiKey: string;
  /** The sandbox's ID. */
  sandboxId: string;
  /** The control plane's URL. Default https://api.hopx.dev. */
  controlPlaneUrl?: string;
  /** A control client to use (and leave open) instead of one of its own. */
  control?: HopxControlClient;
  /** The sandbox's description when the caller has it already (a create answer): no read, and its token is used first. */
  known?: HopxSandboxInfo;
}

/** A client of one HopX sandbox's agent, reached by its ID. */
export interface HopxSandboxClient extends HopxClient {
  /** The sandbox's ID. */
  readonly sandboxId: string;
  /** The agent's base URL, as the control plane gave it. */
  readonly publicHost: string;
  /** How many agent tokens it has fetched from the control plane (the first one included). */
  readonly tokenRenewals: number;
}

const expiring = (token: HopxAgentToken): ExpiringToken => ({ token: token.auth_token, expiresAt: Date.parse(token.token_expires_at) });

/** The transport options a control client shares with the agent client it serves. */
function sharedOptions(options: ClientOptions): Omit<ClientOptions, 'apiKey' | 'baseUrl' | 'sandbox' | 'headers'> {
  const { apiKey: _a, baseUrl: _b, sandbox: _s, headers: _h, ...rest } = options;
  return rest;
}

/**
 * Connects to the HopX sandbox `sandboxId` with the account's API key: reads its
 * agent's `public_host` and obtains an agent token through the control plane (at
 * once, both), then calls the agent with that token, renewed as it nears
 * `token_expires_at` and once after a 401 that says it expired. close() also
 * closes the control client it made.
 *
 * @throws NotFoundError when there is no such sandbox, AuthenticationError for a
 * wrong key, UnexpectedResponseError when the sandbox has no `public_host` yet.
 */
export async function connectHopxSandbox(options: HopxConnectOptions): Promise<HopxSandboxClient> {
  const { sandboxId, controlPlaneUrl, control: given, known, ...clientOptions } = options;
  if (typeof sandboxId !== 'string' || sandboxId === '') throw new ValidationError('sandboxId must be a non-empty string', { provider: 'hopx', operation: 'connect' });
  const control = given ?? createHopxControlClient({ ...sharedOptions(options), apiKey: options.apiKey, ...(controlPlaneUrl !== undefined && { baseUrl: controlPlaneUrl }) });
  const closeOwnControl = given ? async () => {} : () => control.close();
  try {
    const renew = async () => expiring(await control.refreshSandboxToken(sandboxId));
    const firstToken = known?.auth_token !== undefined && known.token_expires_at !== undefined ? { auth_token: known.auth_token, token_expires_at: known.token_expires_at } : undefined;
    const [info, first] = await Promise.all([known ?? control.getSandbox(sandboxId), firstToken ?? control.refreshSandboxToken(sandboxId)]);
    if (!info.public_host) {
      throw new UnexpectedResponseError(`sandbox ${sandboxId} has no public_host (status ${info.status})`, { provider: 'hopx', operation: 'getSandbox', code: 'NO_PUBLIC_HOST' });
    }
    const keeper = createTokenKeeper(renew, expiring(first));
    const agent = hopxClientWith({ ...clientOptions, baseUrl: info.public_host }, { token: keeper });
    const close = async () => {
      await agent.close();
      await closeOwnControl();
    };
    return Object.defineProperties({ ...agent, sandboxId, publicHost: info.public_host, close, [Symbol.asyncDispose]: close } as HopxSandboxClient, {
      // The first token counts as a renewal when it was fetched here, not when it came with `known`.
      tokenRenewals: { get: () => keeper.renewals + (firstToken ? 0 : 1), enumerable: true },
    });
  } catch (error) {
    await closeOwnControl();
    throw error;
  }
}
