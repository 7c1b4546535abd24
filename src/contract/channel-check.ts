// One WebSocket exchange of a contract check, provider-neutral: open the channel,
// send the scenario's client messages, read the server's with bounds (a deadline,
// a byte cap past which it stops reading, a cap on the messages validated and on
// what is kept: it reads on without keeping, so an endless channel cannot grow the
// memory), check each message against the channel's schemas, the order, and how the
// session ended. Everything that leaves here went through `redact`.
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { MissingPeersError } from '../cli-peers.js';
import { importOnce } from '../core/optional-peer.js';
import type { ChannelEnd, ChannelValidator } from './channel-spec.js';
import { outputLines } from './channel-codec.js';
import type { ChannelCodec, ChannelScenario, ChannelStep } from './scenario.js';
import { breaking, type Finding } from './validate.js';

export interface ChannelExchange {
  /** ws:// or wss:// */
  url: string;
  headers: Record<string, string>;
  codec: ChannelCodec;
  steps: readonly ChannelStep[];
  /** The scenario's own ending, beyond the channel's. */
  ending?: ChannelScenario['ending'];
  validator: ChannelValidator;
  /** The whole exchange, from the upgrade to the close. */
  deadlineMs: number;
  /** Received past this, the check stops reading (an endless channel). */
  maxBytes: number;
  /** A refusal is expected: once the channel opens anyway, close it at once. */
  openOnly?: boolean;
  redact(text: string): string;
}

export interface ChannelOutcome {
  /** 101 once upgraded; else the refusal's status; undefined when no answer came. */
  status: number | undefined;
  /** A refusal's content type and the start of its body (redacted). */
  refusal?: { contentType: string | null; body: string };
  /** Departures from the contract. */
  findings: Finding[];
  /** What kept the check from running as written (no connection, a client message of ours outside the contract). */
  problems: string[];
  /** Server messages received, and their bytes; of them, what the check kept (excerpts, the output's tail). */
  messages: number;
  bytes: number;
  keptBytes: number;
  close?: { code: number; reason: string };
}

/** Messages validated one by one; later ones are counted, not checked. */
export const MAX_VALIDATED_MESSAGES = 1_000;
/** Findings one exchange may give. */
const MAX_FINDINGS = 50;
/** The largest single message read (both providers' messages are far smaller: Tensorlake caps them at 64 KiB). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** How much of the output's tail is kept to find a step's text in. */
const OUTPUT_TAIL_CHARS = 4_096;
/** How much of a message a finding quotes, and of a refusal's body a report keeps. */
const EXCERPT_CHARS = 160;
const REFUSAL_BODY_BYTES = 64 * 1024;
const REFUSAL_EXCERPT_CHARS = 2_048;
/** After the final message, how long the close handshake may take. */
const CLOSE_GRACE_MS = 1_000;

const importWs = importOnce(() => import('ws'));

/** `ws`, an optional peer, loaded on first use. */
export function loadWs(): Promise<typeof import('ws')> {
  return importWs().catch((error: unknown) => {
    throw new MissingPeersError(`the WebSocket channel checks need the optional peer dependency ws, which is not installed (${error instanceof Error ? error.message : String(error)}); install it with: npm install --save-dev ws`);
  });
}

function sizeOf(data: RawData): number {
  return Array.isArray(data) ? data.reduce((n, b) => n + b.byteLength, 0) : data.byteLength;
}

function bytesOf(data: RawData): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
}

export async function exchange(x: ChannelExchange): Promise<ChannelOutcome> {
  const { WebSocket } = await loadWs();
  const { validator, redact } = x;
  const outcome: ChannelOutcome = { status: undefined, findings: [], problems: [], messages: 0, bytes: 0, keptBytes: 0 };
  let more = 0;
  const room = () => outcome.findings.length < MAX_FINDINGS;
  const find = (finding: Finding) => {
    if (room()) outcome.findings.push({ ...finding, message: redact(finding.message) });
    else more++;
  };
  /** A short quote of a message, redacted before it is cut (a cut could leave part of a secret that redaction no longer finds). */
  const excerpt = (text: string) => {
    // A finding that will not be listed quotes nothing (it is only counted).
    if (!room()) return '';
    const quoted = redact(text.slice(0, EXCERPT_CHARS * 4)).slice(0, EXCERPT_CHARS);
    outcome.keptBytes += quoted.length;
    return JSON.stringify(quoted) + (text.length > EXCERPT_CHARS ? '...' : '');
  };
  const quote = (value: unknown) => excerpt(JSON.stringify(value) ?? String(value));
  const endMessages = validator.contract.ends.flatMap((end) => (end.message === undefined ? [] : [end.message]));

  let output = '';
  let step = 0;
  let sent = 0;
  /** The final message, once it came. */
  let final: string | undefined;
  let finalValue: unknown;
  let stopped: 'timeout' | 'cap' | undefined;

  const socket: WebSocket = new WebSocket(x.url, {
    headers: x.headers,
    maxPayload: MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
    followRedirects: false,
    handshakeTimeout: Math.max(1, x.deadlineMs),
  });

  const done = new Promise<void>((resolve) => {
    const deadline = setTimeout(() => {
      stopped ??= 'timeout';
      socket.terminate();
      resolve();
    }, x.deadlineMs);
    const finish = () => {
      clearTimeout(deadline);
      resolve();
    };

    socket.on('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
      outcome.status = response.statusCode;
      const chunks: Buffer[] = [];
      let size = 0;
      const end = () => {
        const body = Buffer.concat(chunks).toString('utf8');
        outcome.refusal = { contentType: response.headers['content-type'] ?? null, body: redact(body.slice(0, REFUSAL_EXCERPT_CHARS * 4)).slice(0, REFUSAL_EXCERPT_CHARS) };
        outcome.keptBytes += outcome.refusal.body.length;
        request.destroy();
        response.destroy();
        finish();
      };
      response.on('data', (chunk: Buffer) => {
        if (size < REFUSAL_BODY_BYTES) chunks.push(chunk.subarray(0, REFUSAL_BODY_BYTES - size));
        size += chunk.byteLength;
        if (size >= REFUSAL_BODY_BYTES) end();
      });
      response.once('end', end);
      response.once('error', end);
    });
    socket.on('upgrade', (response: IncomingMessage) => {
      outcome.status = response.statusCode;
    });
    socket.on('open', () => (x.openOnly ? socket.close(1000) : advance()));
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const index = outcome.messages++;
      outcome.bytes += sizeOf(data);
      if (outcome.bytes > x.maxBytes) {
        if (!stopped) {
          stopped = 'cap';
          socket.terminate();
          finish();
        }
        return;
      }
      const what = `server message ${index}`;
      // Past the first MAX_VALIDATED_MESSAGES, a message is only decoded: to follow the output and to see the final message come.
      const validating = index < MAX_VALIDATED_MESSAGES;
      const value = read(data, isBinary, what, validating);
      if (value === undefined) return;
      if (final !== undefined) {
        if (validating) find(breaking('message-order', `${what} came after the final message (${final}): ${quote(value)}`));
        return;
      }
      let name: string | undefined;
      if (validating) {
        const classified = validator.classify('server', value, what);
        if (classified.name === undefined) return classified.findings.forEach((f) => find({ ...f, message: `${f.message}: ${quote(value)}` }));
        name = classified.name;
      } else {
        name = endMessages.find((end) => validator.matches(end, value));
      }
      const text = x.codec.outputOf(value);
      if (text) {
        output = (output + text).slice(-OUTPUT_TAIL_CHARS);
        advance();
      }
      if (name !== undefined && endMessages.some((end) => validator.is(name, end))) {
        final = name;
        finalValue = value;
        // As the official SDKs do: the final message ends the session, the client closes.
        setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
        socket.close(1000);
      }
    });
    socket.on('close', (code: number, reason: Buffer) => {
      outcome.close = { code, reason: redact(reason.toString('utf8').slice(0, 4 * EXCERPT_CHARS)).slice(0, EXCERPT_CHARS) };
      finish();
    });
    socket.on('error', (error: Error) => {
      if (outcome.status === undefined) outcome.problems.push(redact(`the channel could not be opened: ${error.message}`));
      else if (!stopped) find(breaking('wrong-ending', `the connection failed: ${error.message}`));
      finish();
    });
  });

  /** A server message as a value, or a finding when it is not in the channel's wire form. */
  function read(data: RawData, isBinary: boolean, what: string, validating: boolean): unknown {
    const decoded = x.codec.decode(bytesOf(data), isBinary);
    if ('value' in decoded) return decoded.value;
    if (validating) find(breaking(decoded.problem === 'not valid JSON' ? 'invalid-json' : 'undeclared-message', `${what} is ${decoded.problem}${decoded.excerpt ? `: ${excerpt(decoded.excerpt)}` : ''}`));
    return undefined;
  }

  /** Sends the steps' messages up to the next text the output has not shown yet. */
  function advance(): void {
    while (step < x.steps.length && socket.readyState === WebSocket.OPEN) {
      const current = x.steps[step]!;
      if ('until' in current) {
        if (current.until.line === '' ? output === '' : !outputLines(output).includes(current.until.line)) return;
        step++;
        continue;
      }
      const what = `client message ${sent}`;
      const classified = validator.classify('client', current.send, what);
      if (classified.name === undefined) outcome.problems.push(...classified.findings.map((f) => `the scenario's ${f.message}`));
      else if (sent === 0 && validator.contract.first !== undefined && !validator.is(classified.name, validator.contract.first)) {
        outcome.problems.push(`the scenario sends ${classified.name} first; the channel wants ${validator.contract.first}`);
      }
      sent++;
      step++;
      socket.send(x.codec.encode(current.send));
    }
  }

  await done;
  if (more > 0) outcome.findings.push(breaking('more-findings', `${more} more findings are not listed`));
  if (outcome.status !== 101 || x.openOnly) return outcome;

  const pending = x.steps.slice(step).find((s): s is { until: { line: string } } => 'until' in s);
  const waited = pending ? `; it was waiting for ${describeWait(pending.until.line)}` : '';
  if (stopped === 'timeout') {
    outcome.findings.push(
      outcome.messages === 0
        ? breaking('channel-timeout', `the channel stayed silent for ${x.deadlineMs} ms after the upgrade${waited}`)
        : breaking('channel-timeout', `the channel did not end within ${x.deadlineMs} ms (${outcome.messages} messages, ${outcome.bytes} bytes)${waited}`),
    );
    return outcome;
  }
  if (stopped === 'cap') {
    outcome.findings.push(breaking('channel-timeout', `the channel sent more than ${x.maxBytes} bytes (${outcome.messages} messages) without ending; the check stopped reading it`));
    return outcome;
  }
  if (pending) outcome.findings.push(breaking('channel-output', `the session ended while waiting for ${describeWait(pending.until.line)}`));
  const close = outcome.close;
  const allowed = endsAsDeclared(validator, final, close);
  const closed = close ? `closed with ${close.code}${close.reason ? ` "${close.reason}"` : ''}` : 'ended without a close frame';
  if (!allowed) outcome.findings.push(breaking('wrong-ending', `the channel ${closed}${final ? ` after ${final}` : ''}, which is none of its declared endings (${describeEnds(validator.contract.ends)})`));
  const wanted = x.ending;
  if (allowed && wanted) {
    if (wanted.message !== undefined && (final === undefined || !validator.is(final, wanted.message))) {
      outcome.findings.push(breaking('wrong-ending', `the channel ${closed} without ${wanted.message}`));
    }
    for (const [field, value] of Object.entries(wanted.fields ?? {})) {
      const got = (finalValue as Record<string, unknown> | undefined)?.[field];
      if (final !== undefined && got !== value) outcome.findings.push(breaking('wrong-ending', `${final}'s ${field} is ${JSON.stringify(redact((JSON.stringify(got) ?? 'undefined').slice(0, 4 * EXCERPT_CHARS)).slice(0, EXCERPT_CHARS))}, expected ${JSON.stringify(value)}`));
    }
    if (wanted.close && (close?.code !== wanted.close.code || (wanted.close.reason !== undefined && close.reason !== wanted.close.reason))) {
      outcome.findings.push(breaking('wrong-ending', `the channel ${closed}, expected ${wanted.close.code}${wanted.close.reason === undefined ? '' : ` "${wanted.close.reason}"`}`));
    }
  }
  return outcome;
}

/** Whether a session that ended with `final` (the server's final message, if any) and `close` is one of the channel's declared endings. */
export function endsAsDeclared(validator: ChannelValidator, final: string | undefined, close: { code: number; reason: string } | undefined): boolean {
  const closeMatches = (end: ChannelEnd) =>
    end.close !== undefined && close !== undefined && (end.close.code === undefined || end.close.code === close.code) && (end.close.reason === undefined || end.close.reason.test(close.reason));
  return validator.contract.ends.some((end) =>
    end.message !== undefined ? final !== undefined && validator.is(final, end.message) && (end.close === undefined || closeMatches(end)) : closeMatches(end),
  );
}

function describeEnds(ends: readonly ChannelEnd[]): string {
  return ends
    .map((end) => [end.message, end.close && `close ${end.close.code ?? 'any code'}${end.close.reason ? ` ${end.close.reason.source}` : ''}`].filter(Boolean).join(' then '))
    .join('; ');
}

function describeWait(line: string): string {
  return line === '' ? 'any output (a prompt)' : `the output to show the line ${JSON.stringify(line)}`;
}
