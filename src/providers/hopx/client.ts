// HopX's VM agent process API, in the vocabulary of its own SDKs.
import type { components, paths } from '../../../generated/hopx.js';
import { operations } from '../../../generated/hopx.operations.js';
import { ValidationError } from '../../errors.js';
import { listIn } from '../../core/decode.js';
import type { ClientOptions, RequestOptions } from '../../core/options.js';
import { createTransport, type Credentials } from '../../core/transport.js';
import type { OpenTerminalOptions, SandboxProcesses, TerminalSession } from '../../processes.js';
import { hopxProcesses } from './processes.js';
import { openTerminal, runCodeStream, type HopxStreamMessage, type HopxStreamOptions, type HopxStreamRequest } from './streams.js';

export type { HopxStreamMessage, HopxStreamOptions, HopxStreamRequest } from './streams.js';

type Schemas = components['schemas'];
/** A background process's ID as the agent gives it (e.g. `proc_...`, or `cmd_...` for a command). */
export type HopxProcessId = Schemas['ProcessId'];
/** The answer to killProcess. */
export type HopxKillResult = Schemas['KillProcessResponse'];
/** The body of runCode: the code, its language, and optional time limit (seconds), working directory and environment. */
export type HopxExecuteRequest = Schemas['ExecuteRequest'];
/** What code run in the foreground produced: success, stdout, stderr, exit code, time taken. */
export type HopxExecuteResult = Schemas['ExecuteResponse'];
/** The body of runCodeBackground: as HopxExecuteRequest, plus an optional name. */
export type HopxBackgroundRequest = Schemas['BackgroundExecuteRequest'];
/** The answer to runCodeBackground: the new process's ID and status. */
export type HopxBackgroundStarted = Schemas['BackgroundExecuteResponse'];
/** A background process's record, as listProcesses returns it. */
export type HopxBackgroundProcess = Schemas['BackgroundProcess'];
/** The agent's status words for a background process. */
export type HopxBackgroundStatus = Schemas['BackgroundStatus'];
/** The body of runCommand and runCommandBackground: a shell line (or a program with `args`), and optional time limit (seconds), working directory and environment. */
export type HopxCommandRequest = Schemas['RunCommandRequest'];
/** What a foreground command produced: success, stdout, stderr, exit code, time taken. */
export type HopxCommandResult = Schemas['RunCommandResponse'];
/** The answer to runCommandBackground: the new process's ID (`cmd_...`). */
export type HopxCommandStarted = Schemas['CommandBackgroundResponse'];
/** One operating-system process of the VM, as listSystemProcesses returns it. */
export type HopxSystemProcess = Schemas['SystemProcess'];
/** The agent's health answer. */
export type HopxHealth = Schemas['HealthResponse'];
/** The body of runCodeAsync: as HopxExecuteRequest, plus the `callback_url` that gets the result. */
export type HopxAsyncRequest = Schemas['AsyncExecuteRequest'];
/** The answer to runCodeAsync: the queued execution's ID. */
export type HopxAsyncQueued = Schemas['AsyncExecuteResponse'];
/** What the agent POSTs to `callback_url` when an async execution ends. */
export type HopxAsyncResult = Schemas['WebhookExecutionComplete'];
/** The body of runIpython: Python code for the agent's IPython kernel. */
export type HopxIpythonRequest = Schemas['IpythonExecuteRequest'];
/** The agent's version, platform, uptime, endpoints and features. */
export type HopxInfo = Schemas['InfoResponse'];
/** The languages the agent runs code in. */
export type HopxLanguage = Schemas['Language'];
/** The sandbox's custom environment variables, as getEnv returns them. */
export type HopxEnvVars = Schemas['EnvVarsResponse'];
/** The body of setEnv and updateEnv: the variables (and, for updateEnv, whether to merge). */
export type HopxEnvRequest = Schemas['EnvVarsSetRequest'];
/** What PUT, PATCH and DELETE /env answer: the agent spec's free-form object (the emulator's carries `env_vars`). */
export type HopxEnvChanged = Record<string, unknown>;

/**
 * The kill requests found in the wild (see specs/hopx.yaml, x-forms), and the one HopX proposes:
 * - `body`: DELETE /execute/kill with `{"process_id"}` (the docs; default)
 * - `query`: DELETE /execute/kill?process_id= (HopX's agent spec)
 * - `path`: POST /execute/kill/{process_id} (both HopX SDKs)
 * - `post`: POST /execute/kill with `{"process_id"}` (HopX's open pull requests #57/#58; not deployed yet)
 */
export type HopxKillForm = 'body' | 'query' | 'path' | 'post';
/** Every HopxKillForm, in order of preference. */
export const HOPX_KILL_FORMS: readonly HopxKillForm[] = ['body', 'query', 'path', 'post'];

/** The options of createHopxClient: those every client takes, and the default kill form. */
export interface HopxClientOptions extends ClientOptions {
  /** The kill form used when a call names none. Default `body`. */
  killForm?: HopxKillForm;
}

/**
 * HopX's VM agent process API (code execution, background processes, commands,
 * environment), in the vocabulary of HopX's own SDKs. Every call checks its input
 * against the spec before sending (ValidationError) and rejects with a
 * SandboxProcsError subclass: NotFoundError, AuthenticationError,
 * InvalidRequestError, TimeoutError (also a declared 408 when code runs past its
 * `timeout`), NetworkError, AbortedError, UnexpectedResponseError when the answer
 * breaks the spec. Every call takes RequestOptions (cancel it, or allow retries).
 */
export interface HopxClient {
  /** Always `'hopx'`. */
  readonly provider: 'hopx';
  /** Run code and wait for it; a non-zero exit is a result with `success: false`, not an error. */
  runCode(request: HopxExecuteRequest, options?: RequestOptions): Promise<HopxExecuteResult>;
  /** Start code and return at once with its process ID; follow it with listProcesses. Not retried unless `retryNonIdempotent`. */
  runCodeBackground(request: HopxBackgroundRequest, options?: RequestOptions): Promise<HopxBackgroundStarted>;
  /** Queue code; when it ends, the agent POSTs a HopxAsyncResult to `callback_url`. Not in HopX's agent spec: both SDKs call it. */
  runCodeAsync(request: HopxAsyncRequest, options?: RequestOptions): Promise<HopxAsyncQueued>;
  /** Run Python in the agent's IPython kernel. Not in HopX's agent spec: the JS SDK calls it. */
  runIpython(request: HopxIpythonRequest, options?: RequestOptions): Promise<HopxExecuteResult>;
  /** Every background process, running or finished. */
  listProcesses(options?: RequestOptions): Promise<HopxBackgroundProcess[]>;
  /** Kill a background process. Throws NotFoundError when it is unknown or already finished. */
  killProcess(processId: HopxProcessId, options?: RequestOptions & { form?: HopxKillForm }): Promise<HopxKillResult>;
  /** Run a shell command and wait for it; a non-zero exit is a result with `success: false`, not an error. */
  runCommand(request: HopxCommandRequest, options?: RequestOptions): Promise<HopxCommandResult>;
  /** Start a shell command and return at once with its process ID (`cmd_...`). Not retried unless `retryNonIdempotent`. */
  runCommandBackground(request: HopxCommandRequest, options?: RequestOptions): Promise<HopxCommandStarted>;
  /** The VM's operating system processes. */
  listSystemProcesses(options?: RequestOptions): Promise<HopxSystemProcess[]>;
  /** Whether the agent is up. */
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
  /**
   * Runs code over the agent's WebSocket /execute/stream: yields stdout and stderr as
   * they are printed, then the result (or an error) and `complete`, and ends. Lazy:
   * nothing is sent until the first message is asked for; leaving the loop early
   * closes the socket. Each message is checked against the spec (UnexpectedResponseError
   * UNEXPECTED_MESSAGE otherwise); a refused upgrade is the error of its status;
   * SessionClosedError if the stream ends before `complete`. Needs the optional peer `ws`.
   */
  runCodeStream(request: HopxStreamRequest, options?: HopxStreamOptions): AsyncGenerator<HopxStreamMessage, void, undefined>;
  /** A shell on the agent's WebSocket /terminal (see TerminalSession). Needs the optional peer `ws`. */
  openTerminal(options?: OpenTerminalOptions): Promise<TerminalSession>;
  /** The provider-neutral interface over this client. */
  readonly processes: SandboxProcesses<HopxBackgroundProcess>;
  /**
   * Closes the client's connection pool (the Node transport's keep-alive sockets),
   * ending any call still in flight. Also `await using client = ...`. A client
   * given its own `fetch` has nothing to close.
   */
  close(): Promise<void>;
  /** The same as close(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The documented address of a sandbox's VM agent from its ID: `https://<sandbox>.hopx.dev`. */
export function hopxSandboxHost(sandbox: string): string {
  return `https://${sandbox}.hopx.dev`;
}

/**
 * Creates a client of one HopX sandbox's VM agent. Give `baseUrl` (e.g. an
 * emulator's) or `sandbox` (its ID, see hopxSandboxHost). Nothing is sent until the
 * first call.
 *
 * @throws ValidationError when an option is invalid: an empty apiKey, neither
 * baseUrl nor sandbox, a non-positive limit, an unknown `killForm`, or a plain
 * `http://` URL to a host that is not loopback (the key would travel in clear).
 */
export function createHopxClient(options: HopxClientOptions): HopxClient {
  return hopxClientWith(options);
}

/** createHopxClient with other credentials than the apiKey as a Bearer token (connectHopxSandbox's renewed agent token). */
export function hopxClientWith(options: HopxClientOptions, credentials?: Credentials): HopxClient {
  const defaultForm = checkForm(options.killForm ?? 'body', 'createClient');
  // The SDK form of kill is a POST, but killing twice is as good as once: safe to retry.
  const { api, call, close, upgrade } = createTransport<paths, typeof operations>('hopx', operations, options, hopxSandboxHost, new Set(['kill_process_by_path', 'kill_process_post']), credentials);

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
        case 'post':
          return call('kill_process_post', { body: { process_id } }, (init) => api.POST('/execute/kill', { body: { process_id }, ...init }), killOptions);
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
    runCodeStream: (request, options) => runCodeStream(upgrade, request, options),
    openTerminal: (options) => openTerminal(upgrade, options),
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
