// HopX's VM agent process API, in the vocabulary of its own SDKs.
import type { components, paths } from '../../../generated/hopx.js';
import { operations } from '../../../generated/hopx.operations.js';
import { ValidationError } from '../../errors.js';
import { listIn } from '../../core/decode.js';
import type { ClientOptions, RequestOptions } from '../../core/options.js';
import { createTransport } from '../../core/transport.js';
import type { SandboxProcesses } from '../../processes.js';
import { hopxProcesses } from './processes.js';

type Schemas = components['schemas'];
export type HopxProcessId = Schemas['ProcessId'];
export type HopxKillResult = Schemas['KillProcessResponse'];
export type HopxExecuteRequest = Schemas['ExecuteRequest'];
export type HopxExecuteResult = Schemas['ExecuteResponse'];
export type HopxBackgroundRequest = Schemas['BackgroundExecuteRequest'];
export type HopxBackgroundStarted = Schemas['BackgroundExecuteResponse'];
export type HopxBackgroundProcess = Schemas['BackgroundProcess'];
export type HopxBackgroundStatus = Schemas['BackgroundStatus'];
export type HopxCommandRequest = Schemas['RunCommandRequest'];
export type HopxCommandResult = Schemas['RunCommandResponse'];
export type HopxCommandStarted = Schemas['CommandBackgroundResponse'];
export type HopxSystemProcess = Schemas['SystemProcess'];
export type HopxHealth = Schemas['HealthResponse'];
export type HopxAsyncRequest = Schemas['AsyncExecuteRequest'];
export type HopxAsyncQueued = Schemas['AsyncExecuteResponse'];
export type HopxAsyncResult = Schemas['WebhookExecutionComplete'];
export type HopxIpythonRequest = Schemas['IpythonExecuteRequest'];
export type HopxInfo = Schemas['InfoResponse'];
export type HopxLanguage = Schemas['Language'];
export type HopxEnvVars = Schemas['EnvVarsResponse'];
export type HopxEnvRequest = Schemas['EnvVarsSetRequest'];
/** What PUT, PATCH and DELETE /env answer: the agent spec's free-form object (the emulator's carries `env_vars`). */
export type HopxEnvChanged = Record<string, unknown>;

/**
 * The three kill requests found in the wild (see specs/hopx.yaml, x-forms):
 * - `body`: DELETE /execute/kill with `{"process_id"}` (the docs; default)
 * - `query`: DELETE /execute/kill?process_id= (HopX's agent spec)
 * - `path`: POST /execute/kill/{process_id} (both HopX SDKs)
 */
export type HopxKillForm = 'body' | 'query' | 'path';
export const HOPX_KILL_FORMS: readonly HopxKillForm[] = ['body', 'query', 'path'];

export interface HopxClientOptions extends ClientOptions {
  /** The kill form used when a call names none. Default `body`. */
  killForm?: HopxKillForm;
}

export interface HopxClient {
  readonly provider: 'hopx';
  /** Run code and wait for it; a non-zero exit is a result with `success: false`, not an error. */
  runCode(request: HopxExecuteRequest, options?: RequestOptions): Promise<HopxExecuteResult>;
  runCodeBackground(request: HopxBackgroundRequest, options?: RequestOptions): Promise<HopxBackgroundStarted>;
  /** Queue code; when it ends, the agent POSTs a HopxAsyncResult to `callback_url`. Not in HopX's agent spec: both SDKs call it. */
  runCodeAsync(request: HopxAsyncRequest, options?: RequestOptions): Promise<HopxAsyncQueued>;
  /** Run Python in the agent's IPython kernel. Not in HopX's agent spec: the JS SDK calls it. */
  runIpython(request: HopxIpythonRequest, options?: RequestOptions): Promise<HopxExecuteResult>;
  listProcesses(options?: RequestOptions): Promise<HopxBackgroundProcess[]>;
  /** Kill a background process. Throws NotFoundError when it is unknown or already finished. */
  killProcess(processId: HopxProcessId, options?: RequestOptions & { form?: HopxKillForm }): Promise<HopxKillResult>;
  runCommand(request: HopxCommandRequest, options?: RequestOptions): Promise<HopxCommandResult>;
  runCommandBackground(request: HopxCommandRequest, options?: RequestOptions): Promise<HopxCommandStarted>;
  /** The VM's operating system processes. */
  listSystemProcesses(options?: RequestOptions): Promise<HopxSystemProcess[]>;
  getHealth(options?: RequestOptions): Promise<HopxHealth>;
  /** The sandbox's custom environment variables, which processes started afterwards get. */
  getEnv(options?: RequestOptions): Promise<HopxEnvVars>;
  /** Replace the custom environment variables. */
  setEnv(request: HopxEnvRequest, options?: RequestOptions): Promise<HopxEnvChanged>;
  /** PATCH /env: with `merge: true` adds to the custom variables, without it replaces them (the agent's default). */
  updateEnv(request: HopxEnvRequest, options?: RequestOptions): Promise<HopxEnvChanged>;
  /** Remove every custom environment variable. */
  clearEnv(options?: RequestOptions): Promise<HopxEnvChanged>;
  /** The agent's version, platform, uptime, endpoints and features. */
  getAgentInfo(options?: RequestOptions): Promise<HopxInfo>;
  /** The provider-neutral interface over this client. */
  readonly processes: SandboxProcesses<HopxBackgroundProcess>;
  /**
   * Closes the client's connection pool (the Node transport's keep-alive sockets),
   * ending any call still in flight. Also `await using client = ...`. A client
   * given its own `fetch` has nothing to close.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export function hopxSandboxHost(sandbox: string): string {
  return `https://${sandbox}.hopx.dev`;
}

export function createHopxClient(options: HopxClientOptions): HopxClient {
  const defaultForm = checkForm(options.killForm ?? 'body', 'createClient');
  // The SDK form of kill is a POST, but killing twice is as good as once: safe to retry.
  const { api, call, close } = createTransport<paths, typeof operations>('hopx', operations, options, hopxSandboxHost, new Set(['kill_process_by_path']));

  const client: Omit<HopxClient, 'processes' | 'close' | typeof Symbol.asyncDispose> = {
    provider: 'hopx',
    runCode: (body, options) => call('execute_code', { body }, (init) => api.POST('/execute', { body, ...init }), options),
    runCodeBackground: (body, options) =>
      call('execute_code_background', { body }, (init) => api.POST('/execute/background', { body, ...init }), options),
    runCodeAsync: (body, options) => call('execute_code_async', { body }, (init) => api.POST('/execute/async', { body, ...init }), options),
    runIpython: (body, options) => call('execute_ipython', { body }, (init) => api.POST('/execute/ipython', { body, ...init }), options),
    listProcesses: async (options) => {
      const list = await call<unknown>('list_processes', {}, (init) => api.GET('/execute/processes', init), options);
      return listIn<HopxBackgroundProcess>(list, 'processes', { provider: 'hopx', operation: 'list_processes' });
    },
    async killProcess(processId, killOptions) {
      const form = checkForm(killOptions?.form ?? defaultForm, 'kill_process');
      const process_id = processId;
      switch (form) {
        case 'body':
          return call('kill_process', { body: { process_id } }, (init) => api.DELETE('/execute/kill', { body: { process_id }, ...init }), killOptions);
        case 'query':
          return call(
            'kill_process',
            { query: { process_id } },
            (init) => api.DELETE('/execute/kill', { params: { query: { process_id } }, ...init }),
            killOptions,
          );
        case 'path':
          return call(
            'kill_process_by_path',
            { path: { process_id } },
            (init) => api.POST('/execute/kill/{process_id}', { params: { path: { process_id } }, ...init }),
            killOptions,
          );
      }
    },
    runCommand: (body, options) => call('run_command', { body }, (init) => api.POST('/commands/run', { body, ...init }), options),
    runCommandBackground: (body, options) =>
      call('run_command_background', { body }, (init) => api.POST('/commands/background', { body, ...init }), options),
    listSystemProcesses: async (options) => {
      const list = await call<unknown>('list_system_processes', {}, (init) => api.GET('/processes', init), options);
      return listIn<HopxSystemProcess>(list, 'processes', { provider: 'hopx', operation: 'list_system_processes' });
    },
    getHealth: (options) => call('get_health', {}, (init) => api.GET('/health', init), options),
    getEnv: (options) => call('get_env', {}, (init) => api.GET('/env', init), options),
    setEnv: (body, options) => call('set_env', { body }, (init) => api.PUT('/env', { body, ...init }), options),
    updateEnv: (body, options) => call('update_env', { body }, (init) => api.PATCH('/env', { body, ...init }), options),
    clearEnv: (options) => call('clear_env', {}, (init) => api.DELETE('/env', init), options),
    getAgentInfo: (options) => call('get_info', {}, (init) => api.GET('/info', init), options),
  };
  return { ...client, processes: hopxProcesses(client), close, [Symbol.asyncDispose]: close };
}

function checkForm(form: unknown, operation: string): HopxKillForm {
  if (HOPX_KILL_FORMS.includes(form as HopxKillForm)) return form as HopxKillForm;
  throw new ValidationError(`kill form must be one of ${HOPX_KILL_FORMS.join(', ')}, got ${String(form)}`, {
    provider: 'hopx',
    operation,
  });
}
