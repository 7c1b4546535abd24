// The registry: every provider by name, with where its pieces are. The CLI, the
// contract engine and the emulator entry points look providers up here, never by
// name in an `if`. A new provider is one spec (specs/<name>.yaml, and
// specs/<name>-control.yaml for its control plane), one folder under src/providers/,
// and one entry below.
//
// Everything is loaded on demand: the emulator entry needs no contract code, the
// contract engine no emulator until a target asks for one. The client entry
// (src/index.ts) imports the clients directly and never this file.
import type { DriftSandboxes, DriftSandboxOptions } from './contract/drift-sandbox.js';
import type { ControlPlaneContract, ProviderContract } from './contract/scenario.js';
import type { ProviderEmulators } from './emulator/emulator.js';
import type { ProviderName } from './errors.js';

export interface ProviderContracts {
  /** The process API's scenarios, through the typed client (its `createClient` is the provider's client factory). */
  processes: ProviderContract<any>;
  /** The control plane's scenarios (specs/<name>-control.yaml), sent raw. */
  control?: ControlPlaneContract;
}

export interface ProviderEntry {
  /** The environment variable that `drift` reads a live sandbox's token from by default. */
  tokenEnv: string;
  /** The environment variable that `drift --api-key-env` is usually given: the provider's API key, as its SDK reads it. */
  apiKeyEnv: string;
  /** The variable `drift` reads its control plane's URL from when `--control-plane-url` is not given (what `emulate --control-plane` exports). */
  controlPlaneEnv: string;
  /** The variable `drift` reads its sandbox proxy's URL from when `--proxy-url` is not given, for a provider that has one. */
  sandboxProxyEnv?: string;
  /** The control plane as a drift check with the API key needs it: create, reach, delete. */
  driftSandboxes(): Promise<(options: DriftSandboxOptions) => DriftSandboxes>;
  /** True when its control plane hands out agent tokens that expire (so `emulate --token-ttl` means something). */
  agentTokens: boolean;
  contracts(): Promise<ProviderContracts>;
  emulators(): Promise<ProviderEmulators>;
}

export const registry: Readonly<Record<ProviderName, ProviderEntry>> = {
  tensorlake: {
    tokenEnv: 'TENSORLAKE_API_KEY',
    apiKeyEnv: 'TENSORLAKE_API_KEY',
    controlPlaneEnv: 'TENSORLAKE_API_URL',
    sandboxProxyEnv: 'TENSORLAKE_SANDBOX_PROXY_URL',
    driftSandboxes: async () => (await import('./providers/tensorlake/drift-sandbox.js')).tensorlakeDriftSandboxes,
    agentTokens: false,
    contracts: async () => ({
      processes: (await import('./providers/tensorlake/contract.js')).tensorlakeContract,
      control: (await import('./providers/tensorlake/control-contract.js')).tensorlakeControlContract,
    }),
    emulators: async () => (await import('./providers/tensorlake/emulator/index.js')).emulators,
  },
  hopx: {
    tokenEnv: 'HOPX_AUTH_TOKEN',
    apiKeyEnv: 'HOPX_API_KEY',
    controlPlaneEnv: 'HOPX_BASE_URL',
    driftSandboxes: async () => (await import('./providers/hopx/drift-sandbox.js')).hopxDriftSandboxes,
    agentTokens: true,
    contracts: async () => ({
      processes: (await import('./providers/hopx/contract.js')).hopxContract,
      control: (await import('./providers/hopx/control-contract.js')).hopxControlContract,
    }),
    emulators: async () => (await import('./providers/hopx/emulator/index.js')).emulators,
  },
};

/** Every provider's name, in the registry's order (the order of CLI output and reports). */
export const providerNames = Object.keys(registry) as ProviderName[];
