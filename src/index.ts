/**
 * The client entry: typed clients for each provider (Tensorlake, HopX), the
 * provider-neutral process interface and the flows built on it, terminal sessions
 * and streamed execution over WebSocket (with the optional peer `ws`), and the
 * errors they throw. It loads neither Prism, the contract engine nor the emulators.
 * @packageDocumentation
 */
export { createTensorlakeClient, tensorlakeSandboxHost } from './providers/tensorlake/client.js';
export type {
  TensorlakeClient,
  TensorlakeClientOptions,
  TensorlakeFollowEvent,
  TensorlakeHealth,
  TensorlakeInfo,
  TensorlakeOutput,
  TensorlakePid,
  TensorlakeProcessInfo,
  TensorlakeOutputEvent,
  TensorlakeProcessStatus,
  TensorlakeNewPty,
  TensorlakePtyCreated,
  TensorlakePtyInfo,
  TensorlakePtyOptions,
  TensorlakePtyRequest,
  TensorlakePtySession,
  TensorlakePtySize,
  TensorlakeRunEvent,
  TensorlakeRunExitEvent,
  TensorlakeRunOutputEvent,
  TensorlakeRunRequest,
  TensorlakeRunStartedEvent,
  TensorlakeSignalResult,
  TensorlakeStartProcessRequest,
} from './providers/tensorlake/client.js';
export { createHopxClient, hopxSandboxHost, HOPX_KILL_FORMS } from './providers/hopx/client.js';
export type {
  HopxAsyncQueued,
  HopxAsyncRequest,
  HopxAsyncResult,
  HopxBackgroundProcess,
  HopxBackgroundRequest,
  HopxBackgroundStarted,
  HopxBackgroundStatus,
  HopxClient,
  HopxClientOptions,
  HopxCommandRequest,
  HopxCommandResult,
  HopxCommandStarted,
  HopxEnvChanged,
  HopxEnvRequest,
  HopxEnvVars,
  HopxExecuteRequest,
  HopxExecuteResult,
  HopxHealth,
  HopxInfo,
  HopxIpythonRequest,
  HopxKillForm,
  HopxKillResult,
  HopxLanguage,
  HopxProcessId,
  HopxStreamMessage,
  HopxStreamOptions,
  HopxStreamRequest,
  HopxSystemProcess,
} from './providers/hopx/client.js';
export { createHopxControlClient, HOPX_CONTROL_PLANE_URL } from './providers/hopx/control-client.js';
export type {
  HopxAgentToken,
  HopxControlClient,
  HopxControlClientOptions,
  HopxCreateSandboxRequest,
  HopxListSandboxesQuery,
  HopxSandboxInfo,
  HopxSandboxList,
} from './providers/hopx/control-client.js';
export { connectHopxSandbox, type HopxConnectOptions, type HopxSandboxClient } from './providers/hopx/connect.js';
export { createTensorlakeControlClient, TENSORLAKE_CONTROL_PLANE_URL } from './providers/tensorlake/control-client.js';
export type {
  TensorlakeControlClient,
  TensorlakeControlClientOptions,
  TensorlakeCreateSandboxRequest,
  TensorlakeUpdateSandboxRequest,
  TensorlakeSandboxCreated,
  TensorlakeSandboxInfo,
} from './providers/tensorlake/control-client.js';
export { connectTensorlakeSandbox, tensorlakeProxyRoute, type TensorlakeConnectOptions, type TensorlakeRoute, type TensorlakeSandboxClient } from './providers/tensorlake/connect.js';
export { connectSandbox, createSandbox, type NewSandbox, type SandboxHandle, type SandboxTarget } from './sandbox.js';
export type { OpenTerminalOptions, ProcessCapabilities, ProcessRecord, ProcessStatus, SandboxProcesses, StartProcessSpec, TerminalSession } from './processes.js';
export { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_STREAM_IDLE_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, type ClientOptions, type RequestOptions } from './core/options.js';
export { DEFAULT_RETRY, type RetryOptions } from './core/retry.js';
export * from './errors.js';
export { killAll, runWithTimeout, terminate, waitForExit } from './flows.js';
export type { RunWithTimeoutResult, TerminateResult, WaitOptions } from './flows.js';
