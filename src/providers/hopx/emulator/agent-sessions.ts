// The HopX agent's WebSocket routes (hopx-ai/hopx openapi_agent.json: /execute/stream,
// /terminal, /commands/stream, /stream, /stream/ipython; auth as every other agent
// route). Messages as the official SDKs send and read them (@hopx-ai/sdk 0.5.1
// dist/chunk-JBQNY6QX.mjs: Sandbox.runCodeStream, Terminal; types in dist/index.d.ts
// ~346-398), sent one at a time (paced-sender.ts says why).
import { existsSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { RawData, WebSocket } from 'ws';
import type { EmulatorContext, ProviderUpgrades } from '../../../emulator/emulator.js';
import { SpawnInputError, type SupervisedProcess } from '../../../emulator/supervisor.js';
import { TerminalLimitError, type Terminal } from '../../../emulator/terminals.js';
import type { UpgradeDecision, UpgradeRoute } from '../../../emulator/websocket.js';
import type { Handler } from '../../../emulator/http.js';
import { envStoreOf, finishWithin, startProcess } from './agent.js';
import { interpreterFor, KINDS, isDirectory } from './local.js';
import { createPacedSender } from './paced-sender.js';

const now = () => new Date().toISOString();

/** How long /execute/stream waits for its execute message. */
const FIRST_MESSAGE_TIMEOUT_MS = 30_000;

/** Terminal sizes the emulator accepts (what a real terminal can be; larger is refused as an invalid resize). */
const MAX_COLS = 1000;
const MAX_ROWS = 500;

/** The first text message, parsed, or undefined for anything else. */
function parseJson(data: RawData, isBinary: boolean): Record<string, unknown> | undefined {
  if (isBinary) return undefined;
  try {
    const value: unknown = JSON.parse(data.toString());
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const isStringRecord = (value: unknown): value is Record<string, string> =>
  !!value && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');

/** `GET /execute/stream`: one execute message, then the run's output as it comes, its result, and complete. */
function executeStream(context: EmulatorContext, ws: WebSocket): void {
  let run: SupervisedProcess | undefined;
  const holder = {};
  const sender = createPacedSender(ws, {
    outputMessage: (type, data) => ({ type, data, timestamp: now() }),
    // A slow reader holds the run: its program waits at its next write, nothing piles up here (as /terminal does).
    onBackedUp: () => run?.hold(holder),
    onCaughtUp: () => run?.release(holder),
  });
  const fail = (error: string, code: string) => {
    sender.message({ type: 'error', error, code, timestamp: now() });
    sender.message({ type: 'complete', success: false });
    sender.close(1000);
  };
  // A client that opens the stream and says nothing does not hold a session for ever.
  const silent = setTimeout(() => fail(`no execute message within ${FIRST_MESSAGE_TIMEOUT_MS / 1000} seconds`, 'INVALID_REQUEST'), FIRST_MESSAGE_TIMEOUT_MS);
  ws.once('close', () => clearTimeout(silent));
  ws.once('message', (data, isBinary) => {
    clearTimeout(silent);
    void (async () => {
      const request = parseJson(data, isBinary);
      if (!request || request.type !== 'execute') return fail('the first message must be {"type":"execute", "code": ...}', 'INVALID_REQUEST');
      const { code, language = 'python', timeout = 60, workdir, env } = request;
      if (typeof code !== 'string' || code === '') return fail('code is required', 'MISSING_PARAMETER');
      if (typeof language !== 'string' || !KINDS[language]) return fail(`unsupported language ${String(language)}`, 'INVALID_REQUEST');
      if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > 300) return fail('timeout must be an integer from 1 to 300 (seconds)', 'INVALID_REQUEST');
      if (workdir !== undefined && (typeof workdir !== 'string' || workdir === '')) return fail('workdir must be a non-empty string', 'INVALID_REQUEST');
      if (env !== undefined && env !== null && !isStringRecord(env)) return fail('env must map names to strings', 'INVALID_REQUEST');
      const line = await interpreterFor(language, code, context.workdir);
      const process = await startProcess(context, envStoreOf(context), (_status, message, errorCode) => fail(message, errorCode), language, {
        line,
        env: env ?? undefined,
        workdir: workdir as string | undefined,
      });
      if (!process) return;
      run = process;
      // A client that goes away ends the run, as a closed HTTP request does.
      ws.once('close', () => {
        process.release(holder);
        if (process.running) context.supervisor.kill(process.pid);
      });
      const unsubscribe = process.subscribe((event) => {
        if (event.type === 'output') sender.output(event.output.stream, `${event.output.line}\n`);
      });
      const inTime = await finishWithin(context, process, timeout);
      await process.done;
      unsubscribe();
      if (!inTime) sender.message({ type: 'error', error: `Execution timed out after ${timeout} seconds`, code: 'EXECUTION_TIMEOUT', timestamp: now() });
      const exitCode = process.exitCode ?? -1;
      sender.message({ type: 'result', exit_code: exitCode, execution_time: ((process.endedAt ?? Date.now()) - process.startedAt) / 1000, timestamp: now() });
      sender.message({ type: 'complete', success: inTime && exitCode === 0 });
      sender.close(1000);
    })().catch((error: unknown) => fail(`the run failed: ${(error as Error).message}`, 'EXECUTION_FAILED'));
  });
}

/**
 * The sandbox's shell: bash where it is installed, else sh. Without the host user's startup files
 * (--norc): the sandbox is not the user's account, and a slow ~/.bashrc would hold the prompt.
 */
const shell = () => (existsSync('/bin/bash') ? { command: '/bin/bash', args: ['--norc', '--noprofile'] } : { command: '/bin/sh', args: [] });

/** Joins a terminal to a client: output as {type:"output"}, the exit as {type:"exit", code}, then close. */
function attachTerminal(terminal: Terminal, ws: WebSocket): void {
  const holder = {};
  const sender = createPacedSender(ws, {
    outputMessage: (_type, data) => ({ type: 'output', data }),
    // A slow reader holds the terminal: the program waits at its next write, nothing piles up here.
    onBackedUp: () => terminal.hold(holder),
    onCaughtUp: () => terminal.release(holder),
  });
  const decoder = new StringDecoder('utf8');
  const unsubscribe = terminal.onData((chunk) => sender.output('output', decoder.write(chunk)));
  ws.on('message', (data, isBinary) => {
    const message = parseJson(data, isBinary);
    if (message?.type === 'input' && typeof message.data === 'string') void terminal.write(Buffer.from(message.data));
    else if (message?.type === 'resize') {
      const { cols, rows } = message;
      if (Number.isInteger(cols) && Number.isInteger(rows) && (cols as number) >= 1 && (rows as number) >= 1 && (cols as number) <= MAX_COLS && (rows as number) <= MAX_ROWS) {
        terminal.resize(cols as number, rows as number);
      }
    }
  });
  ws.once('close', () => {
    unsubscribe();
    terminal.release(holder);
    void terminal.kill();
  });
  void terminal.exited.then(() => {
    unsubscribe();
    sender.output('output', decoder.end());
    sender.message({ type: 'exit', code: terminal.exitCode ?? (terminal.signal !== null ? 128 + terminal.signal : -1) });
    sender.close(1000);
  });
}

/** `GET /terminal`: the sandbox's shell in a terminal of its own, in the sandbox's working directory. */
async function openTerminal(context: EmulatorContext): Promise<UpgradeDecision> {
  if (!(await isDirectory(context.workdir))) return { refuse: { status: 500, message: 'the sandbox has no working directory', code: 'EXECUTION_FAILED' } };
  let terminal: Terminal;
  try {
    terminal = await context.terminals.open({ ...shell(), env: envStoreOf(context).all(), cwd: context.workdir, cols: 80, rows: 24 });
  } catch (error) {
    if (error instanceof TerminalLimitError) return { refuse: { status: 429, message: error.message, code: 'RATE_LIMIT_EXCEEDED', headers: { 'retry-after': '1' } } };
    if (error instanceof SpawnInputError) return { refuse: { status: 400, message: error.message, code: 'INVALID_REQUEST' } };
    return { refuse: { status: 500, message: `the terminal failed to start: ${(error as Error).message}`, code: 'EXECUTION_FAILED' } };
  }
  return { accept: (ws) => attachTerminal(terminal, ws), abandon: () => void terminal.kill() };
}

/**
 * Routes the agent spec declares whose messages no source describes and no SDK uses
 * (/commands/stream: "streaming command execution output", nothing more; /stream and
 * /stream/ipython likewise): declared, answered 501, not guessed at.
 */
const NOT_EMULATED: UpgradeRoute[] = [
  { path: '/commands/stream', name: 'commands_stream', emulated: false },
  { path: '/stream', name: 'stream_code', emulated: false },
  { path: '/stream/ipython', name: 'stream_ipython', emulated: false },
];

/**
 * What the WebSocket routes answer a plain GET (no upgrade): the agent's 400 (openapi_agent.json declares 400
 * ErrorResponse for each), with the words of Go's gorilla/websocket (inferred: no source shows the agent's router).
 */
export const notUpgradedHandlers: Record<string, Handler> = Object.fromEntries(
  ['execute_stream', 'terminal_connect'].map((operationId) => [
    operationId,
    (_request, reply) => reply.error(400, "websocket: the client is not using the websocket protocol: 'upgrade' token not found in 'Connection' header", 'INVALID_REQUEST'),
  ]),
);

export function hopxUpgrades(context: EmulatorContext): ProviderUpgrades {
  return {
    routes: [
      { path: '/execute/stream', name: 'execute_stream', open: () => ({ accept: (ws) => executeStream(context, ws) }) },
      { path: '/terminal', name: 'terminal_connect', open: () => openTerminal(context) },
      ...NOT_EMULATED,
    ],
    // The agent's word for "too many at once" (its process cap answers the same).
    busy: { status: 429, code: 'RATE_LIMIT_EXCEEDED' },
  };
}
