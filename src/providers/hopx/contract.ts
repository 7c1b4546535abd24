// HopX's part of the contract scenarios: how to call each operation, one
// scenario per declared (operation, status) for every kill form (so the check
// tells which forms an agent honours), and the fixtures that make each reachable
// on a real (stateful) target.
import { invokeFrom, LOCAL_ONLY, MOCK_ONLY, rawScenarios, statusScenarios, type OperationCall, type ProviderContract, type StatusCase } from '../../contract/scenario.js';
import { hopxChannels, hopxChannelScenarios } from './channels.js';
import { killAll } from '../../flows.js';
import {
  createHopxClient,
  type HopxBackgroundRequest,
  type HopxClient,
  type HopxAsyncRequest,
  type HopxCommandRequest,
  type HopxEnvRequest,
  type HopxExecuteRequest,
  type HopxIpythonRequest,
  type HopxKillForm,
} from './client.js';

const request = <T>(input: Readonly<Record<string, unknown>>) => input.request as T;
const sleeper: HopxBackgroundRequest = { code: 'sleep 60', language: 'bash', name: 'sleeper' };
// With args, the command is the program (without, it is a shell line, which would exit 127 instead).
const NOT_INSTALLED = { request: { command: '/nonexistent/sandbox-procs-probe', args: ['--version'] } };
// A loopback URL that nothing listens on: the emulator's webhook fails quietly, a live agent's too.
const CALLBACK = 'http://127.0.0.1:9/sandbox-procs-callback';

const calls: Record<string, OperationCall<HopxClient>> = {
  execute_code: { input: { request: { code: 'echo 1', language: 'bash' } }, invoke: (c, i) => c.runCode(request<HopxExecuteRequest>(i)) },
  execute_code_background: { input: { request: sleeper }, invoke: (c, i) => c.runCodeBackground(request<HopxBackgroundRequest>(i)) },
  execute_code_async: {
    input: { request: { code: 'echo 1', language: 'bash', callback_url: CALLBACK } },
    invoke: (c, i) => c.runCodeAsync(request<HopxAsyncRequest>(i)),
  },
  execute_ipython: { input: { request: { code: 'print(1)' } }, invoke: (c, i) => c.runIpython(request<HopxIpythonRequest>(i)) },
  list_processes: { input: {}, invoke: (c) => c.listProcesses() },
  kill_process: { input: {}, invoke: (c, i) => c.killProcess(i.process_id as string, { form: i.form as HopxKillForm }) },
  kill_process_by_path: { input: {}, invoke: (c, i) => c.killProcess(i.process_id as string, { form: 'path' }) },
  kill_process_post: { input: {}, invoke: (c, i) => c.killProcess(i.process_id as string, { form: 'post' }) },
  run_command: { input: { request: { command: 'echo', args: ['1'] } }, invoke: (c, i) => c.runCommand(request<HopxCommandRequest>(i)) },
  run_command_background: { input: { request: { command: 'sleep', args: ['60'] } }, invoke: (c, i) => c.runCommandBackground(request<HopxCommandRequest>(i)) },
  list_system_processes: { input: {}, invoke: (c) => c.listSystemProcesses() },
  get_env: { input: {}, invoke: (c) => c.getEnv() },
  set_env: { input: { request: { env_vars: { SANDBOX_PROCS_PROBE: '1' } } }, invoke: (c, i) => c.setEnv(request<HopxEnvRequest>(i)) },
  update_env: { input: { request: { env_vars: { SANDBOX_PROCS_PROBE: '2' }, merge: true } }, invoke: (c, i) => c.updateEnv(request<HopxEnvRequest>(i)) },
  clear_env: { input: {}, invoke: (c) => c.clearEnv() },
  get_health: { input: {}, invoke: (c) => c.getHealth() },
  get_info: { input: {}, invoke: (c) => c.getAgentInfo() },
};

const unknown = [404, { fixture: 'unknown' }] as const satisfies StatusCase;
// Without credentials, and naming no process: harmless even on an agent that forgot to check.
const noAuth = [401, { fixture: 'unknown' }] as const satisfies StatusCase;
const killCases: StatusCase[] = [[200, { fixture: 'running' }], [400, MOCK_ONLY], noAuth, unknown];
const kill = (form: HopxKillForm) => ({ process_id: 'proc_abc123', form });
// No code: the agent spec requires none, but the docs' 400 ("code is required") is what an agent answers.
const NO_CODE = [400, { input: { request: { language: 'bash' } }, name: 'no code' }] as const satisfies StatusCase;

export const hopxContract: ProviderContract<HopxClient> = {
  provider: 'hopx',
  createClient: createHopxClient,
  invoke: invokeFrom(calls, 'hopx'),
  scenarios: [
    ...statusScenarios('hopx', 'execute_code', calls.execute_code!.input, [
      200,
      NO_CODE,
      401,
      [408, { input: { request: { code: 'sleep 5', language: 'bash', timeout: 1 } }, name: 'timeout 1 s' }],
      [429, MOCK_ONLY],
      [500, MOCK_ONLY],
    ]),
    ...statusScenarios('hopx', 'execute_code_background', calls.execute_code_background!.input, [200, NO_CODE, 401, [429, MOCK_ONLY], [500, MOCK_ONLY]]),
    ...statusScenarios('hopx', 'execute_code_async', calls.execute_code_async!.input, [
      200,
      [400, { input: { request: { language: 'bash', callback_url: CALLBACK } }, name: 'no code' }],
      401,
      [429, MOCK_ONLY],
      [500, MOCK_ONLY],
    ]),
    ...statusScenarios('hopx', 'execute_ipython', calls.execute_ipython!.input, [200, [400, { input: { request: {} }, name: 'no code' }], 401, [429, MOCK_ONLY], [500, MOCK_ONLY]]),
    ...statusScenarios('hopx', 'list_processes', {}, [200, [400, MOCK_ONLY], 401]),
    ...statusScenarios('hopx', 'kill_process', kill('body'), killCases),
    ...statusScenarios('hopx', 'kill_process', kill('query'), killCases),
    ...statusScenarios('hopx', 'kill_process_by_path', kill('path'), [[200, { fixture: 'running' }], noAuth, unknown]),
    ...statusScenarios('hopx', 'kill_process_post', kill('post'), killCases),
    ...statusScenarios('hopx', 'run_command', calls.run_command!.input, [200, [400, MOCK_ONLY], 401, [429, MOCK_ONLY], [500, { input: NOT_INSTALLED, name: 'command not found' }]]),
    ...statusScenarios('hopx', 'run_command_background', calls.run_command_background!.input, [200, [400, MOCK_ONLY], 401, [429, MOCK_ONLY], [500, { input: NOT_INSTALLED, name: 'command not found' }]]),
    ...statusScenarios('hopx', 'list_system_processes', {}, [200, 401, [500, MOCK_ONLY]]),
    ...statusScenarios('hopx', 'get_env', {}, [200, [400, MOCK_ONLY], 401]),
    // Setting or clearing a sandbox's variables changes what the user's own processes see: never on a live sandbox.
    ...statusScenarios('hopx', 'set_env', calls.set_env!.input, [[200, LOCAL_ONLY], 401]),
    ...statusScenarios('hopx', 'update_env', calls.update_env!.input, [[200, LOCAL_ONLY], 401]),
    ...statusScenarios('hopx', 'clear_env', {}, [[200, LOCAL_ONLY], [400, MOCK_ONLY], 401]),
    ...statusScenarios('hopx', 'get_health', {}, [200]),
    ...statusScenarios('hopx', 'get_info', {}, [200]),
    // Malformed requests the typed client refuses to send: the agent must answer its declared 400.
    ...rawScenarios('hopx', 'kill_process', [{ method: 'DELETE', path: '/execute/kill', body: {} }]),
    // The agent requires no field of /execute, but a code that is not a string cannot be decoded by any agent.
    ...rawScenarios('hopx', 'execute_code', [{ method: 'POST', path: '/execute', body: { code: 42, language: 'bash' } }]),
    // Variables that are not a map of strings: no agent can decode them, so nothing changes.
    ...rawScenarios('hopx', 'set_env', [{ method: 'PUT', path: '/env', body: { env_vars: 'GREETING=hi' } }]),
    ...rawScenarios('hopx', 'update_env', [{ method: 'PATCH', path: '/env', body: { env_vars: ['GREETING=hi'], merge: true } }]),
    // The WebSocket channels (specs/hopx.asyncapi.yaml).
    ...hopxChannelScenarios,
  ],
  channels: hopxChannels,
  fixtures: {
    running: async (client) => ({ process_id: (await client.runCodeBackground(sleeper)).process_id }),
    unknown: async () => ({ process_id: 'proc_000000000000' }),
  },
  startedIds: (operation, body) =>
    operation === 'execute_code_background' || operation === 'run_command_background' ? [(body as { process_id: string }).process_id] : [],
  idOf: (input) => (typeof input.process_id === 'string' ? input.process_id : undefined),
  preflight: (client) => client.listProcesses(),
  neutral: (client) => client.processes,
  // The docs' JSON body, the agent spec's query, the SDK's path (NOTES.md, "HopX's three kill forms") and the proposed POST body.
  killForms: ['body', 'query', 'path', 'post'],
  cleanup: async (client, ids) => {
    await killAll(client.processes, (p) => ids.includes(p.id));
  },
};
