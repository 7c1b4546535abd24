// The client entry: typed clients for each provider and the errors they throw.
// It loads neither Prism nor the contract engine.
export { createTensorlakeClient, tensorlakeSandboxHost } from './providers/tensorlake/client.js';
export type { TensorlakeClient, TensorlakeClientOptions, TensorlakePid, TensorlakeProcesses } from './providers/tensorlake/client.js';
export { createHopxClient, hopxSandboxHost, HOPX_KILL_FORMS } from './providers/hopx/client.js';
export type { HopxClient, HopxClientOptions, HopxKillForm, HopxKillResult, HopxProcessId, HopxProcesses } from './providers/hopx/client.js';
export { DEFAULT_TIMEOUT_MS, type ClientOptions } from './core/transport.js';
export * from './errors.js';
