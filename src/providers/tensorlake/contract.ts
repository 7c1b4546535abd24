// Tensorlake's part of the contract scenarios: how to call each operation, one
// scenario per declared (operation, status), and the fixtures that make each
// reachable on a real (stateful) target.
import { randomBytes } from 'node:crypto';
import { drain, invokeFrom, MOCK_ONLY, rawScenarios, statusScenarios, type OperationCall, type ProviderContract, type StatusCase } from '../../contract/scenario.js';
import { tensorlakeChannels, tensorlakeChannelScenarios } from './channels.js';
import { killAll, waitForExit } from '../../flows.js';
import { createTensorlakeClient, type TensorlakeClient, type TensorlakeStartProcessRequest } from './client.js';
import type { TensorlakePtyRequest } from './pty.js';

const pid = { pid: 42 };
const sleeper: TensorlakeStartProcessRequest = { command: 'sleep', args: ['60'] };
const pidOf = (input: Readonly<Record<string, unknown>>) => input.pid as number | string;
const request = (input: Readonly<Record<string, unknown>>) => input.request as TensorlakeStartProcessRequest;
/** No PID can be this high on Linux (pid_max is at most 2^22). */
const UNKNOWN_PID = 2_147_483_646;
const SPAWN_FAILURE = { request: { command: '/nonexistent/sandbox-procs-probe' } };
/** A managed name no one uses: the daemon answers 404 for it where it answers an unknown PID's reads with 200. */
const UNKNOWN_NAME = { pid: 'sandbox-procs-no-such-process' };
/** No daemon hands out this session ID (its IDs are 21-character nanoids). */
const UNKNOWN_PTY = 'sandbox-procs-no-such-pty-session';
const pty = { session_id: UNKNOWN_PTY };
const ptyRunner: TensorlakePtyRequest = { command: 'sleep', args: ['60'], rows: 24, cols: 80 };
const sessionOf = (input: Readonly<Record<string, unknown>>) => input.session_id as string;
/**
 * What cleanup receives for a PTY session: its ID marked, since a nanoid can look like
 * a managed process's name, and a session is killed through its own route.
 */
const PTY_MARK = 'pty:';

const calls: Record<string, OperationCall<TensorlakeClient>> = {
  sandbox_process_list: { input: {}, invoke: (c) => c.listProcesses() },
  sandbox_process_start: { input: { request: sleeper }, invoke: (c, i) => c.startProcess(request(i)) },
  sandbox_process_run: { input: { request: { command: 'echo', args: ['hello'] } }, invoke: (c, i) => drain(c.run(request(i))) },
  sandbox_process_get: { input: pid, invoke: (c, i) => c.getProcess(pidOf(i)) },
  sandbox_process_kill: { input: pid, invoke: (c, i) => c.killProcess(pidOf(i)) },
  sandbox_process_restart: { input: pid, invoke: (c, i) => c.restartProcess(pidOf(i)) },
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
  sandbox_pty_create: { input: { request: ptyRunner }, invoke: (c, i) => c.createPtySession(i.request as TensorlakePtyRequest) },
  sandbox_pty_list: { input: {}, invoke: (c) => c.listPtys() },
  sandbox_pty_get: { input: pty, invoke: (c, i) => c.getPty(sessionOf(i)) },
  sandbox_pty_delete: { input: pty, invoke: (c, i) => c.killPty(sessionOf(i)) },
  sandbox_pty_resize: { input: { ...pty, rows: 40, cols: 120 }, invoke: (c, i) => c.resizePty(sessionOf(i), { rows: i.rows as number, cols: i.cols as number }) },
};

const unknown = [404, { fixture: 'unknown' }] as const satisfies StatusCase;
// Without credentials, and naming no process: harmless even on a server that forgot to check.
const noAuth = [401, { fixture: 'unknown' }] as const satisfies StatusCase;
const byName = [404, { input: UNKNOWN_NAME, name: 'unknown name' }] as const satisfies StatusCase;
// The daemon reads an unknown PID's output as empty (200); an unknown name is a 404.
const readOutput: StatusCase[] = [[200, { fixture: 'exited' }], [200, { fixture: 'unknown' }], [400, MOCK_ONLY], noAuth, byName, [500, MOCK_ONLY]];

const cases: Record<keyof typeof calls, StatusCase[]> = {
  sandbox_process_list: [200, 401],
  sandbox_process_start: [201, [201, { input: { request: { ...sleeper, name: 'contract-managed' } }, name: 'managed, named' }], [400, MOCK_ONLY], 401, [413, MOCK_ONLY], [429, MOCK_ONLY], [500, { input: SPAWN_FAILURE, name: 'command not found' }]],
  sandbox_process_run: [200, [200, { input: { request: { command: 'sleep', args: ['30'], timeout: 0.2 } }, name: 'timeout 0.2 s' }], [400, MOCK_ONLY], 401, [413, MOCK_ONLY], [429, MOCK_ONLY]],
  sandbox_process_get: [[200, { fixture: 'running' }], [200, { fixture: 'managed' }], [400, MOCK_ONLY], noAuth, unknown],
  sandbox_process_kill: [[204, { fixture: 'running' }], [204, { fixture: 'managed' }], [400, MOCK_ONLY], noAuth, unknown, [500, { fixture: 'exited' }]],
  sandbox_process_restart: [[200, { fixture: 'managed' }], [400, { fixture: 'running' }], noAuth, unknown, [429, MOCK_ONLY]],
  sandbox_process_signal: [[200, { fixture: 'running' }], [400, { fixture: 'exited' }], noAuth, unknown, [413, MOCK_ONLY]],
  sandbox_process_write_stdin: [[204, { fixture: 'stdin' }], [400, { fixture: 'running' }], noAuth, unknown, [413, MOCK_ONLY]],
  // Closing twice is a 204 on the daemon: the `stdin` fixture's pipe is closed by the call before, or here.
  sandbox_process_close_stdin: [[204, { fixture: 'stdin' }], [204, { fixture: 'closedStdin' }], [400, { fixture: 'running' }], noAuth, unknown],
  sandbox_process_stdout: readOutput,
  sandbox_process_stderr: readOutput,
  sandbox_process_output: readOutput,
  sandbox_process_follow_stdout: readOutput,
  sandbox_process_follow_stderr: readOutput,
  sandbox_process_follow_output: readOutput,
  sandbox_health: [200, 401],
  sandbox_info: [200, 401],
  // 429 needs 64 sessions at once, too costly for a check; the delete's and resize's 500 need a failing PTY.
  // A 400 is malformed JSON, which Prism answers with its own validation body: only the mock is asked for it, as for the processes.
  sandbox_pty_create: [201, [400, MOCK_ONLY], 401, [429, MOCK_ONLY], [500, { input: SPAWN_FAILURE, name: 'command not found' }]],
  sandbox_pty_list: [200, 401],
  sandbox_pty_get: [[200, { fixture: 'pty' }], noAuth, unknown],
  sandbox_pty_delete: [[204, { fixture: 'pty' }], noAuth, unknown, [500, MOCK_ONLY]],
  sandbox_pty_resize: [[204, { fixture: 'pty' }], [400, MOCK_ONLY], noAuth, unknown, [500, MOCK_ONLY]],
};

export const tensorlakeContract: ProviderContract<TensorlakeClient> = {
  provider: 'tensorlake',
  createClient: createTensorlakeClient,
  invoke: invokeFrom(calls, 'tensorlake'),
  scenarios: [
    ...Object.entries(cases).flatMap(([operation, list]) => statusScenarios('tensorlake', operation, calls[operation]!.input, list)),
    // Malformed requests the typed client refuses to send: the daemon's extractors answer them in plain text.
    ...rawScenarios('tensorlake', 'sandbox_process_start', [
      { method: 'POST', path: '/api/v1/processes', body: { args: ['no command'] }, status: 422 },
      { method: 'POST', path: '/api/v1/processes', bodyText: 'command=ls', contentType: 'text/plain', status: 415 },
    ]),
    ...rawScenarios('tensorlake', 'sandbox_process_run', [
      { method: 'POST', path: '/api/v1/processes/run', body: {}, status: 422 },
      { method: 'POST', path: '/api/v1/processes/run', bodyText: 'command=ls', contentType: 'text/plain', status: 415 },
    ]),
    ...rawScenarios('tensorlake', 'sandbox_process_signal', [
      { method: 'POST', path: `/api/v1/processes/${UNKNOWN_PID}/signal`, body: { signal: 'TERM' }, status: 422 },
      { method: 'POST', path: `/api/v1/processes/${UNKNOWN_PID}/signal`, bodyText: 'signal=15', contentType: 'text/plain', status: 415 },
    ]),
    ...rawScenarios('tensorlake', 'sandbox_pty_create', [
      { method: 'POST', path: '/api/v1/pty', body: { args: ['no command'] }, status: 422 },
      { method: 'POST', path: '/api/v1/pty', bodyText: 'command=sh', contentType: 'text/plain', status: 415 },
    ]),
    // The body is read before the session is looked up (axum's extractors run before the handler): an unknown session is harmless here.
    ...rawScenarios('tensorlake', 'sandbox_pty_resize', [
      { method: 'POST', path: `/api/v1/pty/${UNKNOWN_PTY}/resize`, body: { rows: 40, cols: -1 }, status: 422 },
      { method: 'POST', path: `/api/v1/pty/${UNKNOWN_PTY}/resize`, bodyText: 'rows=40', contentType: 'text/plain', status: 415 },
    ]),
    // The WebSocket channels (specs/tensorlake.asyncapi.yaml).
    ...tensorlakeChannelScenarios,
  ],
  channels: tensorlakeChannels,
  fixtures: {
    running: async (client) => ({ pid: (await client.startProcess(sleeper)).pid }),
    stdin: async (client) => ({ pid: (await client.startProcess({ command: 'cat', stdin_mode: 'pipe' })).pid }),
    exited: async (client) => {
      const { pid } = await client.startProcess({ command: 'echo', args: ['fixture'] });
      await waitForExit(client.processes, pid, { timeoutMs: 10_000 });
      return { pid };
    },
    unknown: async () => ({ pid: UNKNOWN_PID, session_id: UNKNOWN_PTY }),
    pty: async (client) => ({ session_id: (await client.createPtySession(ptyRunner)).session_id }),
    managed: async (client) => {
      const name = `sandbox-procs-fixture-${randomBytes(4).toString('hex')}`;
      await client.startProcess({ ...sleeper, name, restart: { policy: 'never' } });
      return { pid: name };
    },
    closedStdin: async (client) => {
      const { pid } = await client.startProcess({ command: 'cat', stdin_mode: 'pipe' });
      await client.closeStdin(pid);
      return { pid };
    },
  },
  startedIds: (operation, body) => {
    if (operation === 'sandbox_pty_create') return [PTY_MARK + (body as { session_id: string }).session_id];
    return operation === 'sandbox_process_start' || operation === 'sandbox_process_restart' ? [String((body as { pid: number }).pid)] : [];
  },
  idOf: (input) => {
    if (input.session_id !== undefined) return PTY_MARK + String(input.session_id);
    return input.pid === undefined ? undefined : String(input.pid);
  },
  preflight: (client) => client.health(),
  neutral: (client) => client.processes,
  cleanup: async (client, ids) => {
    const sessions = ids.filter((id) => id.startsWith(PTY_MARK)).map((id) => id.slice(PTY_MARK.length));
    await Promise.all(sessions.map((id) => client.killPty(id).catch(() => undefined)));
    // Managed names first: killing one by name stops its supervision, so nothing restarts it.
    const names = ids.filter((id) => !/^\d+$/.test(id) && !id.startsWith(PTY_MARK));
    await Promise.all(names.map((name) => client.processes.kill(name).catch(() => false)));
    await killAll(client.processes, (p) => ids.includes(p.id));
  },
};
