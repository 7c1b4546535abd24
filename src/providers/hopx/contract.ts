// HopX's part of the contract scenarios: how to call each operation, and one
// scenario per declared (operation, status), for every kill form, so that the
// check tells which forms an agent honours.
import { invokeFrom, statusScenarios, type OperationCall, type ProviderContract } from '../../contract/scenario.js';
import { createHopxClient, type HopxClient, type HopxCommandRequest, type HopxKillForm } from './client.js';

const command: HopxCommandRequest = { command: 'sleep', args: ['60'] };
const kill = (form: HopxKillForm) => ({ process_id: 'proc_abc123', form });

const calls: Record<string, OperationCall<HopxClient>> = {
  execute_code: { input: {}, invoke: (c) => c.runCode({ code: 'print(1)', language: 'python' }) },
  execute_code_background: { input: {}, invoke: (c) => c.runCodeBackground({ code: 'sleep 60', language: 'bash', name: 'sleeper' }) },
  list_processes: { input: {}, invoke: (c) => c.listProcesses() },
  kill_process: { input: kill('body'), invoke: (c, i) => c.killProcess(i.process_id as string, { form: i.form as HopxKillForm }) },
  kill_process_by_path: { input: kill('path'), invoke: (c, i) => c.killProcess(i.process_id as string, { form: 'path' }) },
  run_command: { input: {}, invoke: (c) => c.runCommand(command) },
  run_command_background: { input: {}, invoke: (c) => c.runCommandBackground(command) },
  list_system_processes: { input: {}, invoke: (c) => c.listSystemProcesses() },
  get_health: { input: {}, invoke: (c) => c.getHealth() },
};

const killStatuses = [200, 400, 401, 404];

export const hopxContract: ProviderContract<HopxClient> = {
  provider: 'hopx',
  createClient: createHopxClient,
  invoke: invokeFrom(calls, 'hopx'),
  scenarios: [
    ...statusScenarios('hopx', 'execute_code', {}, [200, 400, 401, 408, 500]),
    ...statusScenarios('hopx', 'execute_code_background', {}, [200, 400, 401, 500]),
    ...statusScenarios('hopx', 'list_processes', {}, [200, 401]),
    ...statusScenarios('hopx', 'kill_process', kill('body'), killStatuses),
    ...statusScenarios('hopx', 'kill_process', kill('query'), killStatuses),
    ...statusScenarios('hopx', 'kill_process_by_path', kill('path'), [200, 401, 404]),
    ...statusScenarios('hopx', 'run_command', {}, [200, 400, 401, 500]),
    ...statusScenarios('hopx', 'run_command_background', {}, [200, 400, 401, 500]),
    ...statusScenarios('hopx', 'list_system_processes', {}, [200, 401]),
    ...statusScenarios('hopx', 'get_health', {}, [200]),
  ],
};
