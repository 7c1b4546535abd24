// HopX's VM agent process API over real local processes. Code runs through the
// local interpreter of its language (hopx-local.ts); one that is not installed
// gets the agent's 500 EXECUTION_FAILED, not a crash. Error codes are HopX's own
// (the docs' and the SDKs' agent enums), never invented ones.
import { randomBytes } from 'node:crypto';
import { arch, platform } from 'node:os';
import { operations } from '../../../../generated/hopx.operations.js';
import type { components } from '../../../../generated/hopx.js';
import { EMULATOR_VERSION, isolationInfo, RETRY_SOON, type EmulatorContext, type ProviderEmulator } from '../../../emulator/emulator.js';
import { createEnvStore, type EnvStore } from './env-store.js';
import { hopxUpgrades, notUpgradedHandlers } from './agent-sessions.js';
import { interpreterFor, isDirectory, isLoopbackUrl, localWorkdir, procStats, sendWebhook, type CommandLine } from './local.js';
import type { Handler, Reply } from '../../../emulator/http.js';
import { shareOut, truncationHeaders } from '../../../emulator/output-buffer.js';
import { SpawnInputError, SupervisorLimitError, type SupervisedProcess } from '../../../emulator/supervisor.js';

type Schemas = components['schemas'];

interface Background {
  id: string;
  executionId: string;
  name: string | null;
  language: string;
  process: SupervisedProcess;
  outcome?: 'killed' | 'timeout';
}

// The HTTP layer's generic codes, in HopX's words (docs: RESOURCE_NOT_FOUND).
const CODES: Record<string, string> = { NOT_FOUND: 'RESOURCE_NOT_FOUND' };

const newId = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;
const iso = (ms: number) => new Date(ms).toISOString();
const seconds = (p: SupervisedProcess) => ((p.endedAt ?? Date.now()) - p.startedAt) / 1000;
/** What answers leave out of the output they carry, for the truncation headers. */
interface Tally {
  omitted: number;
  truncated: number;
}
/** A stream's text, a newline after each line; within `maxBytes`, its newest lines. What it leaves out goes to `tally`. */
const text = (p: SupervisedProcess, stream: 'stdout' | 'stderr', tally?: Tally, maxBytes = Infinity) => {
  const read = p.output.read(stream, maxBytes);
  if (tally) {
    tally.omitted += read.omitted;
    tally.truncated += read.truncated;
  }
  return read.lines.map((l) => `${l.line}\n`).join('');
};
const newTally = (): Tally => ({ omitted: 0, truncated: 0 });
const headersOf = (tally: Tally) => truncationHeaders(tally.omitted, tally.truncated);

function statusOf(b: Background): Schemas['BackgroundStatus'] {
  if (b.process.running) return 'running';
  if (b.outcome) return b.outcome;
  return b.process.exitCode === 0 ? 'completed' : 'failed';
}

/** One list entry with both namings the sources show: the docs' and the agent spec's (which the JS SDK reads). */
function toBackgroundProcess(b: Background, tally?: Tally, share = { stdout: Infinity, stderr: Infinity }): Schemas['BackgroundProcess'] {
  const p = b.process;
  const ended = p.endedAt !== null;
  return {
    process_id: b.id,
    execution_id: b.executionId,
    name: b.name,
    status: statusOf(b),
    language: b.language,
    // docs
    started_at: iso(p.startedAt),
    completed_at: ended ? iso(p.endedAt!) : null,
    stdout: text(p, 'stdout', tally, share.stdout),
    stderr: text(p, 'stderr', tally, share.stderr),
    exit_code: p.running ? null : p.exitCode,
    execution_time: ended ? seconds(p) : null,
    // agent spec (no end fields while running, as Go's omitempty leaves them out)
    start_time: iso(p.startedAt),
    ...(ended ? { end_time: iso(p.endedAt!), duration: seconds(p) } : {}),
    pid: p.pid,
  };
}

/** Waits for the process, or kills it after `limit` seconds: true when it finished in time. */
export async function finishWithin(context: EmulatorContext, p: SupervisedProcess, limit: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    // Clamped: Node fires a longer timer at once (the spec caps timeouts below this anyway).
    timer = setTimeout(() => resolve(false), Math.min(limit * 1000, 2 ** 31 - 1));
  });
  const inTime = await Promise.race([p.done.then(() => true), timedOut]);
  clearTimeout(timer);
  if (!inTime) {
    context.supervisor.kill(p.pid);
    await p.done;
  }
  return inTime;
}

export interface Launch {
  line: CommandLine;
  env?: Record<string, string> | undefined;
  workdir?: string | undefined;
}

/** How a start that failed is answered: an HTTP error, or a stream's error message. */
export type Refuse = (status: number, message: string, code: string, headers?: Record<string, string>) => void;

/** The sandbox's /env variables, one store per sandbox: what its HTTP routes set, its streams and terminals see. */
const envStores = new WeakMap<EmulatorContext, EnvStore>();
export function envStoreOf(context: EmulatorContext): EnvStore {
  let store = envStores.get(context);
  if (!store) envStores.set(context, (store = createEnvStore()));
  return store;
}

/** Starts a process, or refuses it as the agent does and returns undefined. */
export async function startProcess(context: EmulatorContext, customEnv: EnvStore, refuse: Refuse, what: string, { line, env, workdir }: Launch): Promise<SupervisedProcess | undefined> {
  const cwd = workdir === undefined ? context.workdir : await localWorkdir(workdir, context.workdir, context.isolation.confined);
  // Checked first: spawn reports a missing cwd as ENOENT, like a missing program.
  if (!(await isDirectory(cwd))) {
    refuse(400, `working directory ${workdir} does not exist`, 'DIRECTORY_NOT_FOUND');
    return undefined;
  }
  try {
    return await context.supervisor.start({ command: line.command, args: line.args, env: { ...customEnv.all(), ...env }, cwd });
  } catch (error) {
    if (error instanceof SupervisorLimitError) {
      refuse(429, error.message, 'RATE_LIMIT_EXCEEDED', RETRY_SOON);
      return undefined;
    }
    if (error instanceof SpawnInputError) {
      refuse(400, error.message, 'INVALID_REQUEST');
      return undefined;
    }
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    refuse(500, missing ? `${what} is not installed (${line.command} not found)` : `${what} failed to start: ${(error as Error).message}`, 'EXECUTION_FAILED');
    return undefined;
  }
}

export const hopxEmulator: ProviderEmulator = {
  provider: 'hopx',
  operations,
  // What the examples read; HopX's SDKs reach an agent only through the control plane.
  environment: (baseUrl, token) => ({ HOPX_SANDBOX_URL: baseUrl, HOPX_AUTH_TOKEN: token }),
  publicOperations: new Set(['get_health', 'get_info']),
  // The agent is a Go server: an unrouted path gets net/http's plain 404 (inferred; no source shows the agent's router answer).
  unrouted: { status: 404, contentType: 'text/plain; charset=utf-8', body: '404 page not found\n' },
  errorBody: (message, code, requestId) => ({
    error: message,
    code: CODES[code ?? ''] ?? code ?? 'INTERNAL_ERROR',
    request_id: requestId,
    timestamp: new Date().toISOString(),
  }),
  upgrades: hopxUpgrades,
  handlers(context: EmulatorContext): Record<string, Handler> {
    const { supervisor } = context;
    const background = new Map<string, Background>();
    // The sandbox's /env variables: under a request's own env, over the supervisor's minimal environment.
    const customEnv = envStoreOf(context);
    // An entry whose process was evicted for the memory budget goes with it.
    const idOf = new WeakMap<SupervisedProcess, string>();
    supervisor.onEvict((p) => {
      const id = idOf.get(p);
      if (id !== undefined) background.delete(id);
    });

    const launch = (reply: Reply, what: string, request: Launch) => startProcess(context, customEnv, (status, message, code, headers) => reply.error(status, message, code, headers), what, request);

    type CodeRequest = { code?: string; language?: string; env?: Record<string, string>; workdir?: string; working_dir?: string };

    /** Runs `code`: a missing or empty code is the docs' 400, before anything starts. */
    async function startCode(body: CodeRequest, reply: Reply, language = body.language ?? 'python'): Promise<SupervisedProcess | undefined> {
      if (!body.code) {
        reply.error(400, 'code is required', 'MISSING_PARAMETER');
        return undefined;
      }
      const line = await interpreterFor(language, body.code, context.workdir);
      return launch(reply, language, { line, env: body.env, workdir: body.workdir ?? body.working_dir });
    }

    /** What a finished run answers, code or command alike, and the headers that count what its output lost. */
    function finished(p: SupervisedProcess) {
      const tally = newTally();
      const result = {
        success: p.exitCode === 0,
        stdout: text(p, 'stdout', tally),
        stderr: text(p, 'stderr', tally),
        exit_code: p.exitCode ?? -1,
        execution_time: seconds(p),
      };
      return { result, headers: headersOf(tally) };
    }

    /** Runs code to its end and answers ExecuteResponse, or 408 after `timeout` seconds. */
    async function runToEnd(body: CodeRequest & { timeout?: number }, reply: Reply, language: string): Promise<void> {
      const p = await startCode(body, reply, language);
      if (!p) return;
      const timeout = body.timeout ?? 60;
      if (!(await finishWithin(context, p, timeout))) {
        return reply.error(408, `Execution timed out after ${timeout} seconds`, 'EXECUTION_TIMEOUT');
      }
      const { result, headers } = finished(p);
      reply.json(200, { ...result, language, timestamp: new Date().toISOString() } satisfies Schemas['ExecuteResponse'], headers);
    }

    const track = (p: SupervisedProcess, prefix: string, language: string, name: string | undefined, timeoutSeconds: number): Background => {
      const entry: Background = { id: newId(prefix), executionId: newId('exec'), name: name ?? null, language, process: p };
      background.set(entry.id, entry);
      idOf.set(p, entry.id);
      void finishWithin(context, p, timeoutSeconds).then((inTime) => {
        if (!inTime && !entry.outcome) entry.outcome = 'timeout';
      });
      return entry;
    };

    const kill = async (id: string | undefined, reply: Reply) => {
      if (!id) return reply.error(400, 'process_id is required', 'INVALID_REQUEST');
      const entry = background.get(id);
      // The docs: 404 when the process "doesn't exist or has already completed".
      if (!entry || !entry.process.running) return reply.error(404, 'Process not found', 'NOT_FOUND');
      entry.outcome = 'killed';
      supervisor.kill(entry.process.pid);
      await entry.process.done;
      reply.json(200, { process_id: id, status: 'killed', message: 'Process terminated successfully' });
    };

    /** The docs: a command runs in `/bin/sh -c`. With args (the agent spec's field), the command is the program. */
    const commandLine = (body: Schemas['RunCommandRequest']): CommandLine =>
      body.args && body.args.length > 0 ? { command: body.command, args: body.args } : { command: 'sh', args: ['-c', body.command] };

    const runCommand = (body: Schemas['RunCommandRequest'], reply: Reply) => launch(reply, body.command, { line: commandLine(body), env: body.env, workdir: body.workdir });

    const envAnswer = () => {
      const env_vars = customEnv.all();
      return { env_vars, count: Object.keys(env_vars).length, timestamp: new Date().toISOString() } satisfies Schemas['EnvVarsResponse'];
    };
    /** PUT replaces; PATCH merges only when asked (the agent spec's default is replace). */
    const setEnv = (request: { json: unknown }, reply: Reply, merge: (body: Schemas['EnvVarsSetRequest']) => boolean) => {
      const body = (request.json ?? {}) as Schemas['EnvVarsSetRequest'];
      const refused = customEnv.set(body.env_vars ?? {}, merge(body));
      if (refused) return reply.error(400, refused, 'INVALID_REQUEST');
      reply.json(200, envAnswer());
    };

    const uptimeSeconds = () => Math.round((Date.now() - context.startedAt) / 100) / 10;
    const features = {
      code_execution: true,
      background_jobs: true,
      ipython_kernel: false,
      websocket_streaming: true,
      languages: ['python', 'javascript', 'bash', 'go'],
    };

    return {
      ...notUpgradedHandlers,
      execute_code: (request, reply) => {
        const body = request.json as Schemas['ExecuteRequest'];
        return runToEnd(body, reply, body.language ?? 'python');
      },
      // No IPython kernel here: the code runs as a Python script, so no `result` of a last expression.
      execute_ipython: (request, reply) => runToEnd(request.json as Schemas['IpythonExecuteRequest'], reply, 'python'),
      execute_code_background: async (request, reply) => {
        const body = request.json as Schemas['BackgroundExecuteRequest'];
        const p = await startCode(body, reply);
        if (!p) return;
        const entry = track(p, 'proc', body.language ?? 'python', body.name, body.timeout ?? 300);
        reply.json(200, {
          process_id: entry.id,
          execution_id: entry.executionId,
          status: 'running',
          start_time: iso(p.startedAt),
          ...(body.name ? { name: body.name } : {}),
        } satisfies Schemas['BackgroundExecuteResponse']);
      },
      execute_code_async: async (request, reply) => {
        const body = request.json as Schemas['AsyncExecuteRequest'];
        const p = await startCode(body, reply);
        if (!p) return;
        const executionId = newId('exec');
        const timeout = body.timeout ?? 1800;
        reply.json(200, {
          execution_id: executionId,
          status: 'queued',
          callback_url: body.callback_url,
          message: isLoopbackUrl(body.callback_url)
            ? 'Execution queued. Will POST to callback_url when complete.'
            : 'Execution queued. The emulator calls loopback callback URLs only; this one will not be called.',
          timestamp: new Date().toISOString(),
        } satisfies Schemas['AsyncExecuteResponse']);
        const inTime = await finishWithin(context, p, timeout);
        if (!isLoopbackUrl(body.callback_url) || context.stopping.aborted) return;
        await sendWebhook({
          url: body.callback_url,
          ...(body.callback_headers ? { headers: body.callback_headers } : {}),
          ...(body.callback_signature_secret ? { secret: body.callback_signature_secret } : {}),
          signal: context.stopping,
          body: {
            execution_id: executionId,
            status: !inTime ? 'timeout' : p.exitCode === 0 ? 'completed' : 'failed',
            stdout: text(p, 'stdout'),
            stderr: text(p, 'stderr'),
            exit_code: p.exitCode ?? -1,
            execution_time: seconds(p),
            timestamp: new Date().toISOString(),
            ...(!inTime ? { error: `Execution timed out after ${timeout} seconds` } : {}),
          } satisfies Schemas['WebhookExecutionComplete'],
        });
      },
      list_processes: (_request, reply) => {
        // Every entry embeds its output: all of it together stays within maxListOutputBytes, shared fairly, newest lines kept.
        const entries = [...background.values()];
        const streams = ['stdout', 'stderr'] as const;
        const shares = shareOut(
          entries.flatMap((b) => streams.map((stream) => b.process.output.textBytes(stream))),
          supervisor.limits.maxListOutputBytes,
        );
        const tally = newTally();
        const processes = entries.map((b, i) => toBackgroundProcess(b, tally, { stdout: shares[2 * i]!, stderr: shares[2 * i + 1]! }));
        reply.json(200, { processes, count: processes.length, timestamp: new Date().toISOString() }, headersOf(tally));
      },
      kill_process: (request, reply) =>
        kill((request.json as { process_id?: string } | undefined)?.process_id ?? request.query.get('process_id') ?? undefined, reply),
      kill_process_by_path: (request, reply) => kill(String(request.params.process_id), reply),
      kill_process_post: (request, reply) => kill((request.json as { process_id?: string } | undefined)?.process_id, reply),
      run_command: async (request, reply) => {
        const body = request.json as Schemas['RunCommandRequest'];
        const p = await runCommand(body, reply);
        if (!p) return;
        await finishWithin(context, p, body.timeout ?? 30);
        const { result, headers } = finished(p);
        reply.json(200, { ...result, command: body.command, pid: p.pid, timestamp: new Date().toISOString() } satisfies Schemas['RunCommandResponse'], headers);
      },
      run_command_background: async (request, reply) => {
        const body = request.json as Schemas['RunCommandRequest'];
        const p = await runCommand(body, reply);
        if (!p) return;
        const entry = track(p, 'cmd', 'command', undefined, body.timeout ?? 300);
        reply.json(200, { process_id: entry.id, status: 'running' } satisfies Schemas['CommandBackgroundResponse']);
      },
      list_system_processes: async (_request, reply) => {
        // The VM's processes, as far as this emulator can vouch for them: its own children.
        const running = supervisor.list().filter((p) => p.running);
        const processes = await Promise.all(
          running.map(async (p) => ({
            pid: p.pid,
            name: p.command.split('/').pop() ?? p.command,
            command: [p.command, ...p.args].join(' '),
            status: 'running',
            started_at: iso(p.startedAt),
            ...(await procStats(p.hostPid() ?? p.pid, p.startedAt)),
          })),
        );
        reply.json(200, { processes, count: processes.length } satisfies Schemas['SystemProcessList']);
      },
      get_env: (_request, reply) => reply.json(200, envAnswer()),
      set_env: (request, reply) => setEnv(request, reply, () => false),
      update_env: (request, reply) => setEnv(request, reply, (body) => body.merge === true),
      clear_env: (_request, reply) => {
        customEnv.clear();
        reply.json(200, envAnswer());
      },
      get_health: (_request, reply) =>
        reply.json(200, {
          status: 'healthy',
          agent: 'sandbox-procs-emulator',
          version: EMULATOR_VERSION,
          uptime: `${Math.floor(uptimeSeconds())}s`,
          uptime_seconds: uptimeSeconds(),
          features,
        } satisfies Schemas['HealthResponse']),
      get_info: (_request, reply) =>
        reply.json(200, {
          agent: 'sandbox-procs-emulator',
          agent_version: EMULATOR_VERSION,
          version: EMULATOR_VERSION,
          os: platform(),
          arch: arch(),
          platform: `${platform()}/${arch()}`,
          start_time: iso(context.startedAt),
          uptime: uptimeSeconds(),
          sandbox_procs_isolation: isolationInfo(context.isolation),
          uptime_seconds: uptimeSeconds(),
          endpoints: Object.fromEntries(Object.entries(operations).map(([id, op]) => [id, `${op.method.toUpperCase()} ${op.path}`])),
          features,
        } satisfies Schemas['InfoResponse']),
    };
  },
};
