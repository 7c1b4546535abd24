// HopX's VM agent process API over real local processes. Code runs through the
// local interpreter of its language; one that is not installed gets the agent's
// 500 CODE_EXECUTION_ERROR, not a crash.
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { operations } from '../../generated/hopx.operations.js';
import type { components } from '../../generated/hopx.js';
import { EMULATOR_VERSION, type EmulatorContext, type ProviderEmulator } from './emulator.js';
import type { Handler, Reply } from './http.js';
import type { SupervisedProcess } from './supervisor.js';

type Schemas = components['schemas'];
type Language = Schemas['Language'];

interface Background {
  id: string;
  executionId: string;
  name: string | null;
  language: string;
  process: SupervisedProcess;
  outcome?: 'killed' | 'timeout';
}

const CODES: Record<string, string> = { NOT_FOUND: 'RESOURCE_NOT_FOUND' };

const newId = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const text = (p: SupervisedProcess, stream: 'stdout' | 'stderr') => {
  const lines = p.lines.filter((l) => l.stream === stream).map((l) => `${l.line}\n`);
  return lines.join('');
};

function statusOf(b: Background): Schemas['BackgroundStatus'] {
  if (b.process.running) return 'running';
  if (b.outcome) return b.outcome;
  return b.process.exitCode === 0 ? 'completed' : 'failed';
}

function toBackgroundProcess(b: Background): Schemas['BackgroundProcess'] {
  const p = b.process;
  return {
    process_id: b.id,
    execution_id: b.executionId,
    name: b.name,
    status: statusOf(b),
    language: b.language,
    started_at: iso(p.startedAt)!,
    completed_at: iso(p.endedAt),
    stdout: text(p, 'stdout'),
    stderr: text(p, 'stderr'),
    exit_code: p.running ? null : p.exitCode,
    execution_time: p.endedAt === null ? null : (p.endedAt - p.startedAt) / 1000,
  };
}

/** Waits for the process, or kills it after `seconds`: true when it finished in time. */
async function finishWithin(context: EmulatorContext, p: SupervisedProcess, seconds: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), seconds * 1000);
  });
  const inTime = await Promise.race([p.done.then(() => true), timedOut]);
  clearTimeout(timer);
  if (!inTime) {
    context.supervisor.kill(p.pid);
    await p.done;
  }
  return inTime;
}

export const hopxEmulator: ProviderEmulator = {
  provider: 'hopx',
  operations,
  publicOperations: new Set(['get_health']),
  errorBody: (message, code, requestId) => ({ error: message, code: CODES[code ?? ''] ?? code ?? 'INTERNAL_ERROR', request_id: requestId }),
  handlers(context: EmulatorContext): Record<string, Handler> {
    const { supervisor } = context;
    const background = new Map<string, Background>();

    /** The command line that runs `code` in `language` here. */
    async function interpreter(language: Language, code: string): Promise<{ command: string; args: string[] }> {
      switch (language) {
        case 'python':
          return { command: 'python3', args: ['-c', code] };
        case 'javascript':
          return { command: process.execPath, args: ['-e', code] };
        case 'bash':
          return { command: 'bash', args: ['-c', code] };
        case 'go': {
          const dir = await mkdtemp(join(context.workdir, 'go-'));
          await writeFile(join(dir, 'main.go'), code);
          return { command: 'go', args: ['run', join(dir, 'main.go')] };
        }
      }
    }

    async function spawnOr500(reply: Reply, what: string, start: () => Promise<SupervisedProcess>): Promise<SupervisedProcess | undefined> {
      try {
        return await start();
      } catch (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reply.error(500, missing ? `${what} is not installed` : `${what} failed to start: ${(error as Error).message}`, missing ? 'CODE_EXECUTION_ERROR' : 'EXECUTION_FAILED');
        return undefined;
      }
    }

    const startCode = async (body: Schemas['BackgroundExecuteRequest'] | Schemas['ExecuteRequest'], reply: Reply) => {
      const language = body.language ?? 'python';
      const { command, args } = await interpreter(language, body.code);
      return spawnOr500(reply, language, () =>
        supervisor.start({ command, args, env: body.env ?? {}, cwd: body.workdir ?? body.working_dir ?? context.workdir }),
      );
    };

    const track = (p: SupervisedProcess, prefix: string, language: string, name: string | undefined, timeoutSeconds: number): Background => {
      const entry: Background = { id: newId(prefix), executionId: newId('exec'), name: name ?? null, language, process: p };
      background.set(entry.id, entry);
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

    const runCommand = async (body: Schemas['RunCommandRequest'], reply: Reply) =>
      spawnOr500(reply, body.command, () => supervisor.start({ command: body.command, args: body.args ?? [], env: body.env ?? {}, cwd: body.workdir ?? context.workdir }));

    return {
      execute_code: async (request, reply) => {
        const body = request.json as Schemas['ExecuteRequest'];
        const p = await startCode(body, reply);
        if (!p) return;
        const timeout = body.timeout ?? 60;
        if (!(await finishWithin(context, p, timeout))) {
          return reply.error(408, `Execution timed out after ${timeout} seconds`, 'EXECUTION_TIMEOUT');
        }
        reply.json(200, {
          success: p.exitCode === 0,
          stdout: text(p, 'stdout'),
          stderr: text(p, 'stderr'),
          exit_code: p.exitCode ?? -1,
          execution_time: (p.endedAt! - p.startedAt) / 1000,
          language: body.language ?? 'python',
          timestamp: new Date().toISOString(),
        });
      },
      execute_code_background: async (request, reply) => {
        const body = request.json as Schemas['BackgroundExecuteRequest'];
        const p = await startCode(body, reply);
        if (!p) return;
        const entry = track(p, 'proc', body.language ?? 'python', body.name, body.timeout ?? 300);
        reply.json(200, { process_id: entry.id, execution_id: entry.executionId, status: 'running' });
      },
      list_processes: (_request, reply) => {
        const processes = [...background.values()].map(toBackgroundProcess);
        reply.json(200, { processes, count: processes.length });
      },
      kill_process: (request, reply) =>
        kill((request.json as { process_id?: string } | undefined)?.process_id ?? request.query.get('process_id') ?? undefined, reply),
      kill_process_by_path: (request, reply) => kill(String(request.params.process_id), reply),
      run_command: async (request, reply) => {
        const body = request.json as Schemas['RunCommandRequest'];
        const p = await runCommand(body, reply);
        if (!p) return;
        await finishWithin(context, p, body.timeout ?? 30);
        reply.json(200, {
          stdout: text(p, 'stdout'),
          stderr: text(p, 'stderr'),
          exit_code: p.exitCode ?? -1,
          execution_time: (p.endedAt! - p.startedAt) / 1000,
          success: p.exitCode === 0,
          command: body.command,
        });
      },
      run_command_background: async (request, reply) => {
        const body = request.json as Schemas['RunCommandRequest'];
        const p = await runCommand(body, reply);
        if (!p) return;
        const entry = track(p, 'cmd', 'command', undefined, body.timeout ?? 300);
        reply.json(200, { process_id: entry.id, status: 'running' });
      },
      list_system_processes: (_request, reply) => {
        // The VM's processes, as far as this emulator can vouch for them: its own children.
        const user = userInfo().username;
        const processes = supervisor
          .list()
          .filter((p) => p.running)
          .map((p) => ({ pid: p.pid, command: [p.command, ...p.args].join(' '), user }));
        reply.json(200, { processes, count: processes.length });
      },
      get_health: (_request, reply) => reply.json(200, { status: 'healthy', version: EMULATOR_VERSION }),
    };
  },
};
