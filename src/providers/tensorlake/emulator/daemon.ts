// Tensorlake's sandbox process API over real local processes, answering as the
// daemon does (tensorlakeai/indexify: crates/container-daemon) where its code and
// the docs disagree; see specs/tensorlake.yaml, x-disagreements.
import { operations } from '../../../../generated/tensorlake.operations.js';
import type { components } from '../../../../generated/tensorlake.js';
import type { EmulatorContext, ProviderEmulator } from '../../../emulator/emulator.js';
import type { BodyProblem, EmulatorRequest, Handler, Reply, SseWriter } from '../../../emulator/http.js';
import { isolationInfo, RETRY_SOON } from '../../../emulator/emulator.js';
import { EvictedOutput, truncationHeaders } from '../../../emulator/output-buffer.js';
import { SpawnInputError, StdinQueueFullError, SupervisorLimitError, type StreamName, type SupervisedProcess } from '../../../emulator/supervisor.js';
import { createManagedProcesses, isManagedRequest } from './managed.js';
import { createPtySessions } from './pty-sessions.js';
import { spawnIdentity, UserError, workdirSharing } from './users.js';

type Schemas = components['schemas'];
type StreamChoice = StreamName | 'output';

// Tensorlake's error codes; its 400s and 500s mostly carry none, and the emulator leaves them out as the daemon does.
const TENSORLAKE_CODES = new Set(['NOT_FOUND', 'STDIN_NOT_WRITABLE', 'TOO_MANY_SESSIONS', 'INVALID_TOKEN']);

/** One set of PTY sessions per sandbox: its REST routes and its WebSocket route share it. */
const ptySessions = new WeakMap<EmulatorContext, ReturnType<typeof createPtySessions>>();
function ptySessionsOf(context: EmulatorContext) {
  let sessions = ptySessions.get(context);
  if (!sessions) ptySessions.set(context, (sessions = createPtySessions(context)));
  return sessions;
}

/** What axum's Json extractor answers, in plain text, before the daemon's handler runs. */
function rejectBody(problem: BodyProblem): { status: number; text: string } {
  switch (problem.kind) {
    case 'content-type':
      return { status: 415, text: 'Expected request with `Content-Type: application/json`' };
    case 'json':
      return { status: 400, text: 'Failed to parse the request body as JSON' };
    case 'schema':
      return { status: 422, text: `Failed to deserialize the JSON body into the target type: ${problem.problem}` };
    case 'too-large':
      return { status: 413, text: 'Failed to buffer the request body: length limit exceeded' };
  }
}

export const tensorlakeEmulator: ProviderEmulator = {
  provider: 'tensorlake',
  operations,
  upgrades: (context) => ptySessionsOf(context).upgrades,
  environment: (baseUrl, token) => ({ TENSORLAKE_SANDBOX_URL: baseUrl, TENSORLAKE_API_KEY: token }),
  errorBody: (message, code) => ({ error: message, ...(code && TENSORLAKE_CODES.has(code) ? { code } : {}) }),
  rejectBody,
  rawBodyOperations: new Set(['sandbox_process_write_stdin']),
  // axum's fallback for a path no route matches: 404, no body.
  unrouted: { status: 404, body: '' },
  handlers(context: EmulatorContext): Record<string, Handler> {
    const { supervisor } = context;
    const pipes = new Set<number>();
    // A record evicted for the memory budget is forgotten; what it had is still said in a header.
    const evicted = new EvictedOutput();
    supervisor.onEvict((p) => {
      pipes.delete(p.pid);
      evicted.remember(p.pid, p.droppedLines);
    });

    const shareWorkdir = workdirSharing(context.workdir);
    const spawn = async (body: Schemas['StartProcessRequest']) => {
      const identity = await spawnIdentity(body.user);
      if (identity) await shareWorkdir(identity);
      const p = await supervisor.start({
        command: body.command,
        args: body.args ?? [],
        env: body.env ?? {},
        cwd: body.working_dir ?? context.workdir,
        stdin: body.stdin_mode ?? 'closed',
        capture: { stdout: body.stdout_mode !== 'discard', stderr: body.stderr_mode !== 'discard' },
        ...identity,
      });
      evicted.forget(p.pid);
      if (body.stdin_mode === 'pipe') pipes.add(p.pid);
      return p;
    };
    const managed = createManagedProcesses({ respawn: spawn, kill: (pid) => supervisor.kill(pid), stopping: context.stopping });

    const toInfo = (p: SupervisedProcess): Schemas['ProcessInfo'] => {
      const status: Schemas['ProcessStatus'] = p.running ? 'running' : p.signal !== null ? 'signaled' : 'exited';
      const owner = managed.ofPid(p.pid);
      return {
        pid: p.pid,
        status,
        stdin_writable: p.stdinWritable,
        command: p.command,
        args: [...p.args],
        started_at: p.startedAt,
        exit_code: p.running ? null : p.exitCode,
        signal: p.signal,
        ended_at: p.endedAt,
        ...(owner ? { managed: managed.info(owner) } : {}),
      };
    };

    /** A PID (numbers) or a managed name (the current process under that name). */
    const lookup = (ref: string | number): SupervisedProcess | undefined =>
      typeof ref === 'number' ? supervisor.get(ref) : managed.byName(ref)?.current;

    const found = (request: EmulatorRequest, reply: Reply): SupervisedProcess | undefined => {
      const ref = request.params.pid!;
      const process = lookup(ref);
      if (!process) reply.error(404, `Process ${ref} not found`, 'NOT_FOUND');
      return process;
    };

    const start = async (body: Schemas['StartProcessRequest'], reply: Reply): Promise<SupervisedProcess | undefined> => {
      if (body.name !== undefined) {
        const existing = managed.byName(body.name);
        if (existing && existing.status !== 'stopped') {
          reply.error(400, `a managed process named ${body.name} already exists`);
          return undefined;
        }
      }
      try {
        const p = await spawn(body);
        if (isManagedRequest(body)) managed.adopt(body, p);
        return p;
      } catch (error) {
        if (error instanceof SupervisorLimitError) reply.error(429, error.message, undefined, RETRY_SOON);
        else if (error instanceof UserError || error instanceof SpawnInputError) reply.error(400, error.message);
        else reply.error(500, `failed to spawn process: ${(error as Error).message}`);
        return undefined;
      }
    };

    const lines = (p: SupervisedProcess, stream: StreamChoice) => p.output.read(stream === 'output' ? undefined : stream);

    // The daemon reads an unknown PID's absent log as empty: 200 with no lines, and a follow that holds only eof.
    const getLines = (stream: StreamChoice): Handler => (request, reply) => {
      const ref = request.params.pid!;
      if (typeof ref === 'number' && !supervisor.get(ref)) return reply.json(200, { pid: ref, lines: [], line_count: 0 }, truncationHeaders(evicted.linesOf(ref) ?? 0, 0));
      const p = found(request, reply);
      if (!p) return;
      const selected = lines(p, stream);
      reply.json(200, { pid: p.pid, lines: selected.lines.map((l) => l.line), line_count: selected.lines.length }, truncationHeaders(selected.omitted, selected.truncated));
    };

    /** Replays the captured lines (timestamp 0), then live ones, then eof once the process is done. */
    const follow = (stream: StreamChoice): Handler => (request, reply) => {
      const ref = request.params.pid!;
      if (typeof ref === 'number' && !supervisor.get(ref)) return endWithEof(reply.sse());
      const p = found(request, reply);
      if (!p) return;
      const replay = lines(p, stream);
      const sse = reply.sse(truncationHeaders(replay.omitted, replay.truncated));
      const frame = (line: string, timestamp: number, from: StreamName) => ({ line, timestamp, ...(stream === 'output' ? { stream: from } : {}) });
      for (const l of replay.lines) sse.send(frame(l.line, 0, l.stream), 'output');
      if (!p.running) return endWithEof(sse);
      const unsubscribe = p.subscribe((event) => {
        if (event.type === 'exit') {
          unsubscribe();
          endWithEof(sse);
        } else if (stream === 'output' || event.output.stream === stream) {
          sse.send(frame(event.output.line, event.output.timestamp, event.output.stream), 'output', true);
        }
      });
      sse.onClose(unsubscribe);
    };

    const endWithEof = (sse: SseWriter) => {
      sse.send({}, 'eof');
      sse.end();
    };

    return {
      ...ptySessionsOf(context).handlers,
      sandbox_process_list: (_request, reply) => reply.json(200, { processes: supervisor.list().map(toInfo) }),
      sandbox_process_start: async (request, reply) => {
        const p = await start(request.json as Schemas['StartProcessRequest'], reply);
        if (p) reply.json(201, toInfo(p));
      },
      sandbox_process_run: async (request, reply) => {
        const body = request.json as Schemas['RunProcessRequest'];
        const p = await start(body, reply);
        if (!p) return;
        const limitSeconds = body.timeout ?? body.timeout_secs;
        const timer = limitSeconds === undefined ? undefined : setTimeout(() => supervisor.kill(p.pid), Math.min(limitSeconds * 1000, 2 ** 31 - 1));
        const sse = reply.sse();
        sse.send({ pid: p.pid, started_at: p.startedAt });
        for (const l of p.lines) sse.send({ line: l.line, timestamp: l.timestamp, stream: l.stream });
        const finish = () => {
          clearTimeout(timer);
          sse.send(p.signal !== null ? { signal: p.signal, oom_killed: false } : { exit_code: p.exitCode ?? 0 });
          sse.end();
        };
        if (!p.running) return finish();
        const unsubscribe = p.subscribe((event) => {
          if (event.type === 'exit') {
            unsubscribe();
            finish();
          } else {
            sse.send({ line: event.output.line, timestamp: event.output.timestamp, stream: event.output.stream }, undefined, true);
          }
        });
        // The run belongs to its stream: a caller who hangs up ends it.
        sse.onClose(() => {
          clearTimeout(timer);
          unsubscribe();
          supervisor.kill(p.pid);
        });
      },
      sandbox_process_get: (request, reply) => {
        const p = found(request, reply);
        if (p) reply.json(200, toInfo(p));
      },
      sandbox_process_kill: async (request, reply) => {
        const p = found(request, reply);
        if (!p) return;
        const owner = managed.ofPid(p.pid);
        if (owner && owner.current === p && owner.status !== 'stopped') {
          managed.stop(owner);
        } else if (!p.running) {
          // The daemon's answer for a process it still tracks that has already exited.
          return reply.error(500, `Process ${p.pid} is not running`);
        } else {
          supervisor.kill(p.pid);
        }
        await Promise.race([p.done, new Promise((resolve) => setTimeout(resolve, 1_000))]);
        reply.empty(204);
      },
      sandbox_process_restart: async (request, reply) => {
        const p = found(request, reply);
        if (!p) return;
        const owner = managed.ofPid(p.pid);
        if (!owner) return reply.error(400, `process ${p.pid} is not a managed process`);
        try {
          reply.json(200, toInfo(await managed.restartNow(owner)));
        } catch (error) {
          if (error instanceof SupervisorLimitError) reply.error(429, error.message, undefined, RETRY_SOON);
          else reply.error(500, `failed to restart process: ${(error as Error).message}`);
        }
      },
      sandbox_process_signal: (request, reply) => {
        const p = found(request, reply);
        if (!p) return;
        if (!p.running) return reply.error(400, 'process is not running');
        try {
          supervisor.signal(p.pid, (request.json as Schemas['SignalRequest']).signal);
        } catch (error) {
          return reply.error(400, `cannot send signal: ${(error as Error).message}`);
        }
        reply.json(200, { success: true });
      },
      sandbox_process_write_stdin: async (request, reply) => {
        const p = found(request, reply);
        if (!p) return;
        if (!p.stdinWritable) return reply.error(400, 'stdin is not writable', 'STDIN_NOT_WRITABLE');
        try {
          await p.writeStdin(request.body);
        } catch (error) {
          // A full queue (the process is not reading) is refused with the same declared answer, in its own words.
          return reply.error(400, error instanceof StdinQueueFullError ? error.message : 'stdin is not writable', 'STDIN_NOT_WRITABLE');
        }
        reply.empty(204);
      },
      // Idempotent for a process started with a pipe, as the daemon's close_stdin is.
      sandbox_process_close_stdin: (request, reply) => {
        const p = found(request, reply);
        if (!p) return;
        if (!pipes.has(p.pid)) return reply.error(400, `Process ${p.pid} has no stdin pipe`);
        if (p.stdinWritable) p.closeStdin();
        reply.empty(204);
      },
      sandbox_process_stdout: getLines('stdout'),
      sandbox_process_stderr: getLines('stderr'),
      sandbox_process_output: getLines('output'),
      sandbox_process_follow_stdout: follow('stdout'),
      sandbox_process_follow_stderr: follow('stderr'),
      sandbox_process_follow_output: follow('output'),
      sandbox_health: (_request, reply) => reply.json(200, { healthy: true }),
      sandbox_info: (_request, reply) => {
        const all = supervisor.list();
        reply.json(200, {
          version: context.version,
          uptime_secs: Math.floor((Date.now() - context.startedAt) / 1000),
          running_processes: all.filter((p) => p.running).length,
          total_processes: all.length,
          sandbox_procs_isolation: isolationInfo(context.isolation),
        });
      },
    };
  },
};
