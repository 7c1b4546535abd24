// Tensorlake's sandbox process API over real local processes.
import { operations } from '../../generated/tensorlake.operations.js';
import type { components } from '../../generated/tensorlake.js';
import type { EmulatorContext, ProviderEmulator } from './emulator.js';
import type { EmulatorRequest, Handler, Reply, SseWriter } from './http.js';
import type { StreamName, SupervisedProcess } from './supervisor.js';

type Schemas = components['schemas'];
type StreamChoice = StreamName | 'output';

// Tensorlake's error codes; a generic code it does not use is left out, as its 400s do.
const TENSORLAKE_CODES = new Set(['NOT_FOUND', 'STDIN_NOT_WRITABLE', 'INTERNAL_ERROR']);

function toInfo(p: SupervisedProcess): Schemas['ProcessInfo'] {
  const status: Schemas['ProcessStatus'] = p.running ? 'running' : p.signal !== null ? 'signaled' : 'exited';
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
  };
}

export const tensorlakeEmulator: ProviderEmulator = {
  provider: 'tensorlake',
  operations,
  errorBody: (message, code) => ({ error: message, ...(code && TENSORLAKE_CODES.has(code) ? { code } : {}) }),
  handlers(context: EmulatorContext): Record<string, Handler> {
    const { supervisor } = context;

    const found = (request: EmulatorRequest, reply: Reply): SupervisedProcess | undefined => {
      const process = supervisor.get(request.params.pid as number);
      if (!process) reply.error(404, 'process not found', 'NOT_FOUND');
      return process;
    };

    const start = async (body: Schemas['StartProcessRequest'], reply: Reply): Promise<SupervisedProcess | undefined> => {
      try {
        return await supervisor.start({
          command: body.command,
          args: body.args ?? [],
          env: body.env ?? {},
          cwd: body.working_dir ?? context.workdir,
          stdin: body.stdin_mode ?? 'closed',
          capture: { stdout: body.stdout_mode !== 'discard', stderr: body.stderr_mode !== 'discard' },
        });
      } catch (error) {
        reply.error(500, `failed to spawn process: ${(error as Error).message}`, 'INTERNAL_ERROR');
        return undefined;
      }
    };

    const lines = (p: SupervisedProcess, stream: StreamChoice) =>
      p.lines.filter((l) => stream === 'output' || l.stream === stream).map((l) => l.line);

    const getLines = (stream: StreamChoice): Handler => (request, reply) => {
      const p = found(request, reply);
      if (!p) return;
      const selected = lines(p, stream);
      reply.json(200, { pid: p.pid, lines: selected, line_count: selected.length });
    };

    /** Replays the captured lines (timestamp 0), then live ones, then eof once the process is done. */
    const follow = (stream: StreamChoice): Handler => (request, reply) => {
      const p = found(request, reply);
      if (!p) return;
      const sse = reply.sse();
      const frame = (line: string, timestamp: number, from: StreamName) => ({ line, timestamp, ...(stream === 'output' ? { stream: from } : {}) });
      for (const l of p.lines) if (stream === 'output' || l.stream === stream) sse.send(frame(l.line, 0, l.stream), 'output');
      if (!p.running) return endWithEof(sse);
      const unsubscribe = p.subscribe((event) => {
        if (event.type === 'exit') {
          unsubscribe();
          endWithEof(sse);
        } else if (stream === 'output' || event.output.stream === stream) {
          sse.send(frame(event.output.line, event.output.timestamp, event.output.stream), 'output');
        }
      });
      sse.onClose(unsubscribe);
    };

    const endWithEof = (sse: SseWriter) => {
      sse.send({}, 'eof');
      sse.end();
    };

    return {
      sandbox_process_list: (_request, reply) => reply.json(200, { processes: supervisor.list().map(toInfo) }),
      sandbox_process_start: async (request, reply) => {
        const p = await start(request.json as Schemas['StartProcessRequest'], reply);
        if (p) reply.json(201, toInfo(p));
      },
      sandbox_process_run: async (request, reply) => {
        const p = await start(request.json as Schemas['StartProcessRequest'], reply);
        if (!p) return;
        const sse = reply.sse();
        sse.send({ pid: p.pid, started_at: p.startedAt });
        for (const l of p.lines) sse.send({ line: l.line, timestamp: l.timestamp, stream: l.stream });
        const finish = () => {
          sse.send(p.signal !== null ? { signal: p.signal, oom_killed: false } : { exit_code: p.exitCode ?? 0 });
          sse.end();
        };
        if (!p.running) return finish();
        const unsubscribe = p.subscribe((event) => {
          if (event.type === 'exit') {
            unsubscribe();
            finish();
          } else {
            sse.send({ line: event.output.line, timestamp: event.output.timestamp, stream: event.output.stream });
          }
        });
        // The run belongs to its stream: a caller who hangs up ends it.
        sse.onClose(() => {
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
        supervisor.kill(p.pid);
        await Promise.race([p.done, new Promise((resolve) => setTimeout(resolve, 1_000))]);
        reply.empty(204);
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
        } catch {
          return reply.error(400, 'stdin is not writable', 'STDIN_NOT_WRITABLE');
        }
        reply.empty(204);
      },
      sandbox_process_close_stdin: (request, reply) => {
        const p = found(request, reply);
        if (!p) return;
        if (!p.stdinWritable) return reply.error(400, 'stdin is not writable', 'STDIN_NOT_WRITABLE');
        p.closeStdin();
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
        });
      },
    };
  },
};
