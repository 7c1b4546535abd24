// Tensorlake's part of the contract scenarios: how to call each operation, and
// one scenario per declared (operation, status).
import { drain, invokeFrom, statusScenarios, type OperationCall, type ProviderContract } from '../../contract/scenario.js';
import { createTensorlakeClient, type TensorlakeClient, type TensorlakeStartProcessRequest } from './client.js';

const pid = { pid: 42 };
const start: TensorlakeStartProcessRequest = { command: 'sleep', args: ['60'] };
const pidOf = (input: Readonly<Record<string, unknown>>) => input.pid as number;

const calls: Record<string, OperationCall<TensorlakeClient>> = {
  sandbox_process_list: { input: {}, invoke: (c) => c.listProcesses() },
  sandbox_process_start: { input: { request: start }, invoke: (c, i) => c.startProcess(i.request as TensorlakeStartProcessRequest) },
  sandbox_process_run: { input: { request: start }, invoke: (c, i) => drain(c.run(i.request as TensorlakeStartProcessRequest)) },
  sandbox_process_get: { input: pid, invoke: (c, i) => c.getProcess(pidOf(i)) },
  sandbox_process_kill: { input: pid, invoke: (c, i) => c.killProcess(pidOf(i)) },
  sandbox_process_signal: { input: { ...pid, signal: 15 }, invoke: (c, i) => c.sendSignal(pidOf(i), i.signal as number) },
  sandbox_process_write_stdin: { input: { ...pid, data: 'hello\n' }, invoke: (c, i) => c.writeStdin(pidOf(i), i.data as string) },
  sandbox_process_close_stdin: { input: pid, invoke: (c, i) => c.closeStdin(pidOf(i)) },
  sandbox_process_stdout: { input: pid, invoke: (c, i) => c.getStdout(pidOf(i)) },
  sandbox_process_stderr: { input: pid, invoke: (c, i) => c.getStderr(pidOf(i)) },
  sandbox_process_output: { input: pid, invoke: (c, i) => c.getOutput(pidOf(i)) },
  sandbox_process_follow_stdout: { input: pid, invoke: (c, i) => drain(c.followStdout(pidOf(i))) },
  sandbox_process_follow_stderr: { input: pid, invoke: (c, i) => drain(c.followStderr(pidOf(i))) },
  sandbox_process_follow_output: { input: pid, invoke: (c, i) => drain(c.followOutput(pidOf(i))) },
  sandbox_health: { input: {}, invoke: (c) => c.health() },
  sandbox_info: { input: {}, invoke: (c) => c.info() },
};

const statuses: Record<keyof typeof calls, number[]> = {
  sandbox_process_list: [200, 401],
  sandbox_process_start: [201, 400, 401, 500],
  sandbox_process_run: [200, 400, 401],
  sandbox_process_get: [200, 401, 404],
  sandbox_process_kill: [204, 401, 404, 500],
  sandbox_process_signal: [200, 400, 401, 404],
  sandbox_process_write_stdin: [204, 400, 401, 404],
  sandbox_process_close_stdin: [204, 400, 401, 404],
  sandbox_process_stdout: [200, 401, 404, 500],
  sandbox_process_stderr: [200, 401, 404, 500],
  sandbox_process_output: [200, 401, 404, 500],
  sandbox_process_follow_stdout: [200, 401, 404, 500],
  sandbox_process_follow_stderr: [200, 401, 404, 500],
  sandbox_process_follow_output: [200, 401, 404, 500],
  sandbox_health: [200, 401],
  sandbox_info: [200, 401],
};

export const tensorlakeContract: ProviderContract<TensorlakeClient> = {
  provider: 'tensorlake',
  createClient: createTensorlakeClient,
  invoke: invokeFrom(calls, 'tensorlake'),
  scenarios: Object.entries(statuses).flatMap(([operation, list]) => statusScenarios('tensorlake', operation, calls[operation]!.input, list)),
};
