// Terminals and streamed execution in `npm run bench`: the echo round-trip of a
// terminal (client -> emulator -> PTY -> back) and the throughput of streamed output,
// for the sandbox-procs client and the official @hopx-ai/sdk on the same HopX
// emulator (unconfined and, where bubblewrap works, confined), with sandbox-procs on
// Tensorlake's PTY for reference. Contenders interleaved in one run; the emulators
// each run in a process of their own (terminal-host.mjs).
//
// One round trip: the terminal runs `cat >/dev/null` with the terminal's ordinary
// settings (canonical mode, echo on; no `stty raw -echo`), the client writes a line
// `r<n>\n` and waits until the line discipline's echo `r<n>\r\n` is back. Nothing but
// that echo comes back (cat's copy goes to /dev/null), so each write is answered by
// one echo and the next write starts on a quiet terminal.
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '@hopx-ai/sdk';
import { createHopxClient, createHopxControlClient, createTensorlakeClient } from '../dist/src/index.js';
import { summary } from './clients.mjs';
import { startHost } from './host.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const round = (n, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
/** a / b, or null where b is no figure to divide by (nothing came). */
const ratio = (a, b) => (b > 0 && Number.isFinite(a / b) ? round(a / b) : null);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function host(provider, options) {
  const { ready, stop } = await startHost(join(here, 'terminal-host.mjs'), [provider, JSON.stringify(options)]);
  return { baseUrl: ready.baseUrl, token: ready.token, stop };
}

/**
 * A HopX sandbox on a control-plane emulator, reached both ways: our typed client
 * (built from the sandbox's public_host and an agent token, as connectHopxSandbox
 * builds it) and the official SDK (Sandbox.connect through the same control plane).
 */
async function hopxSandbox(isolation) {
  const plane = await host('hopx', { controlPlane: true, isolation });
  const control = createHopxControlClient({ apiKey: plane.token, baseUrl: plane.baseUrl });
  const { sandbox_id: id, public_host: publicHost } = await control.createSandbox({ template_name: 'code-interpreter' });
  const { auth_token: agentToken } = await control.refreshSandboxToken(id);
  const ours = createHopxClient({ apiKey: agentToken, baseUrl: publicHost });
  const sdk = await Sandbox.connect(id, plane.token, plane.baseUrl);
  // Its receive() adds an 'error' listener per message and never removes one (a leak of the SDK's
  // own, kept): only Node's warning about it is silenced, on each socket the SDK opens.
  const connect = sdk.wsClient.connect.bind(sdk.wsClient);
  sdk.wsClient.connect = async (endpoint) => {
    const ws = await connect(endpoint);
    ws.setMaxListeners(0);
    return ws;
  };
  return {
    ours,
    sdk,
    async stop() {
      await ours.close();
      await control.close();
      await plane.stop();
    },
  };
}

async function tensorlakeSandbox(isolation) {
  const emulator = await host('tensorlake', { isolation });
  const ours = createTensorlakeClient({ apiKey: emulator.token, baseUrl: emulator.baseUrl });
  return {
    ours,
    async stop() {
      await ours.close();
      await emulator.stop();
    },
  };
}

/**
 * A terminal as the benchmark drives it, whoever the client: write text, read the
 * next chunk of output (a Buffer from ours, as its Uint8Array comes; a string from
 * the SDK, as its message's `data` comes), close.
 */
function ourTerminal(session) {
  const output = session.output[Symbol.asyncIterator]();
  return {
    write: (text) => session.write(text),
    async next() {
      const { value, done } = await output.next();
      return done ? null : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    },
    close: () => session.close(),
  };
}

function sdkTerminal(sandbox, ws) {
  const output = sandbox.terminal.output(ws)[Symbol.asyncIterator]();
  return {
    write: async (text) => sandbox.terminal.sendInput(ws, text),
    async next() {
      for (;;) {
        const { value, done } = await output.next();
        if (done || value.type === 'exit') return null;
        if (value.type === 'output') return value.data;
      }
    },
    async close() {
      ws.close();
      if (ws.readyState !== ws.CLOSED) await once(ws, 'close');
    },
  };
}

const openOurs = (client) => async () => ourTerminal(await client.openTerminal());
const openTensorlakeShell = (client) => async () => ourTerminal(await client.createPty({ command: '/bin/sh', args: [], rows: 24, cols: 80 }));
const openSdk = (sandbox) => async () => sdkTerminal(sandbox, await sandbox.terminal.connect());

/** The pause before each spaced round trip: longer than the HopX emulator's pause between two messages (paced-sender.ts), far shorter than a typist's. */
const GAP_MS = 5;

/** How long a reader waits for the next message before it counts what it waits for as lost. */
const SILENCE_MS = 5_000;

export class Lost extends Error {}

/**
 * The next value of an iterator, or Lost after SILENCE_MS without one: @hopx-ai/sdk
 * 0.5.1 drops a message that shares a socket read with the one before (paced-sender.ts
 * says why), and a reader waiting for a dropped message would wait for ever.
 */
export async function nextWithin(promise, ms = SILENCE_MS) {
  let timer;
  try {
    return await Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Lost(`nothing came for ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads until `marker` is in what has come since `from`; returns the text after it. */
async function readUntil(terminal, marker, from = '') {
  let seen = from;
  for (;;) {
    const at = seen.indexOf(marker);
    if (at >= 0) return seen.slice(at + marker.length);
    const chunk = await nextWithin(terminal.next());
    if (chunk === null) throw new Error(`the terminal ended before ${JSON.stringify(marker)}`);
    seen += String(chunk);
  }
}

/** A terminal whose foreground program is `cat >/dev/null`, ready for round trips. */
async function echoTerminal(open, name, log) {
  const terminal = await open();
  // The shell's own echo of this line shows RE""ADY; only sh's output says READY.
  await terminal.write(`exec sh -c 'echo RE""ADY; exec cat >/dev/null'\n`);
  try {
    return { terminal, rest: await readUntil(terminal, 'READY\r\n') };
  } catch (error) {
    if (!(error instanceof Lost)) throw error;
    // The message with READY was lost (the SDK's trap): cat runs all the same, and each round trip waits for its own echo.
    log(`${name}: READY never came; going on`);
    return { terminal, rest: '' };
  }
}

/**
 * `count` round trips, back to back (each write as soon as the previous echo is
 * in) or spaced (each write `gapMs` after it, untimed).
 */
async function roundTrips(contender, count, gapMs = 0) {
  const figures = gapMs > 0 ? contender.spaced : contender.backToBack;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    if (gapMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, gapMs));
      figures.ms -= gapMs;
    }
    const token = `r${contender.sent++}`;
    const t = performance.now();
    await contender.session.terminal.write(`${token}\n`);
    try {
      contender.session.rest = await readUntil(contender.session.terminal, `${token}\r\n`, contender.session.rest);
    } catch (error) {
      if (!(error instanceof Lost)) throw error;
      // Its echo never came: counted, not timed; the next round trip waits for its own token.
      figures.lost++;
      contender.session.rest = '';
      continue;
    }
    figures.latencies.push(performance.now() - t);
  }
  figures.ms += performance.now() - started;
}

/**
 * Bytes counted between two markers of a chunked stream (Buffers or strings of
 * ASCII), the markers found across chunk boundaries; the payload is never kept.
 */
export function markerCounter(start, end) {
  const keep = Math.max(start.length, end.length) - 1;
  const text = (chunk, from, to) => (typeof chunk === 'string' ? chunk.slice(Math.max(0, from), to) : chunk.toString('latin1', Math.max(0, from), to));
  let carry = '';
  let counting = false;
  let count = 0;
  let received = 0;
  // Where `marker` starts, relative to the chunk (negative: it began in the chunks before), or null.
  const find = (chunk, marker) => {
    const before = carry.slice(-(marker.length - 1));
    const across = (before + text(chunk, 0, marker.length - 1)).indexOf(marker);
    if (across >= 0 && across < before.length) return across - before.length;
    const at = chunk.indexOf(marker);
    return at === -1 ? null : at;
  };
  const take = (chunk, more = false) => {
    if (!more) received += chunk.length;
    if (!counting) {
      const at = find(chunk, start);
      if (at === null) {
        carry = (carry + text(chunk, chunk.length - keep, chunk.length)).slice(-keep);
        return false;
      }
      counting = true;
      carry = '';
      return take(chunk.slice(at + start.length), true);
    }
    const at = find(chunk, end);
    if (at !== null) {
      // A negative `at`: that much of the marker was counted with the chunks before.
      count += at;
      return true;
    }
    count += chunk.length;
    carry = (carry + text(chunk, chunk.length - keep, chunk.length)).slice(-keep);
    return false;
  };
  return {
    /** Takes the next chunk; true once the end marker is in. */
    take,
    /** Bytes between the markers; null while (or if) the start marker was not seen. */
    get count() {
      return counting ? count : null;
    },
    /** Every byte taken, markers and all. */
    get received() {
      return received;
    },
  };
}

/** A fresh terminal prints `bytes` of `y` between two markers; MB/s from the write to the end marker. */
async function terminalThroughput(open, bytes, run) {
  const terminal = await open();
  try {
    const [start, end] = [`S${run}START\r\n`, `E${run}END\r\n`];
    const t = performance.now();
    // Quoted apart, so that the shell's echo of the command never holds a marker.
    await terminal.write(`printf 'S${run}ST''ART\\n'; head -c ${bytes} /dev/zero | tr '\\0' y; printf 'E${run}E''ND\\n'\n`);
    const counter = markerCounter(start, end);
    let lastChunkAt = t;
    try {
      for (;;) {
        const chunk = await nextWithin(terminal.next());
        lastChunkAt = performance.now();
        if (chunk === null) throw new Error('the terminal ended before the end marker');
        if (counter.take(chunk)) break;
      }
    } catch (error) {
      if (!(error instanceof Lost)) throw error;
      // The end marker was lost: what came is counted, up to the last chunk.
      return { bytes: counter.received, payload: counter.count, seconds: (lastChunkAt - t) / 1000, lost: true };
    }
    return { bytes: counter.received, payload: counter.count, seconds: (performance.now() - t) / 1000 };
  } finally {
    await terminal.close();
  }
}

/** runCodeStream of bash printing `lines` lines of 100 bytes; counts the stdout bytes received. */
async function streamThroughput(stream, lines) {
  const code = `yes '${'y'.repeat(99)}' | head -n ${lines}`;
  const t = performance.now();
  let bytes = 0;
  let complete = false;
  let lastMessageAt = t;
  const messages = stream(code)[Symbol.asyncIterator]();
  try {
    for (;;) {
      const { value: message, done } = await nextWithin(messages.next());
      lastMessageAt = performance.now();
      if (done) break;
      if (message.type === 'stdout') bytes += message.data.length;
      if (message.type === 'complete') complete = message.success;
    }
  } catch (error) {
    if (!(error instanceof Lost)) throw error;
    // `complete` was lost (and the SDK's iterator waits for ever): what came is counted, up to the last message.
    void messages.return?.();
    return { bytes, payload: bytes, seconds: (lastMessageAt - t) / 1000, complete: false, lost: true };
  }
  return { bytes, payload: bytes, seconds: (performance.now() - t) / 1000, complete };
}

/** MB/s over every byte received (the markers and the shell's echo are a few hundred of them). */
function throughputSummary(runs, expected) {
  const rates = runs.map((r) => r.bytes / 1e6 / r.seconds);
  return {
    runs: runs.length,
    expectedBytes: expected,
    // The payload each run got (null: its start marker was lost, so it could not be counted).
    receivedBytes: runs.map((r) => r.payload),
    allReceived: runs.every((r) => r.payload === expected),
    // Runs whose end (the end marker, or `complete`) never came.
    endLost: runs.filter((r) => r.lost).length,
    medianMBps: round(median(rates), 1),
    minMBps: round(Math.min(...rates), 1),
  };
}

export async function benchTerminal({ quick, streamMegabytes = 64, log }) {
  const { findBubblewrap } = await import(join(root, 'dist', 'src', 'emulator', 'confinement', 'bwrap.js'));
  const confinable = !('unavailable' in findBubblewrap());
  if (!confinable) log('terminal: no bubblewrap here, so no confined figures');
  const isolations = confinable ? ['none', 'strict'] : ['none'];
  const label = { none: 'unconfined', strict: 'confined' };
  const hopx = {};
  for (const isolation of isolations) hopx[isolation] = await hopxSandbox(isolation);
  const tensorlake = await tensorlakeSandbox('none');
  try {
    // --- echo round trip ---
    const echo = [
      ...isolations.flatMap((isolation) => [
        { provider: 'hopx', isolation: label[isolation], client: 'sandbox-procs', open: openOurs(hopx[isolation].ours) },
        { provider: 'hopx', isolation: label[isolation], client: '@hopx-ai/sdk', open: openSdk(hopx[isolation].sdk) },
      ]),
      { provider: 'tensorlake', isolation: 'unconfined', client: 'sandbox-procs', open: openTensorlakeShell(tensorlake.ours) },
    ].map((c) => ({ ...c, sent: 0 }));
    const fresh = () => ({ latencies: [], ms: 0, lost: 0 });
    const count = quick ? 40 : 2000;
    const spacedCount = quick ? 20 : 500;
    const warmup = quick ? 10 : 200;
    const batch = quick ? 20 : 100;
    const rounds = Math.ceil(count / batch);
    const spacedBatch = Math.ceil(spacedCount / rounds);
    log(`terminal echo round trip: ${count} back to back and ${spacedCount} spaced by ${GAP_MS} ms per contender after ${warmup} warm-up, interleaved in ${rounds} rounds...`);
    for (const c of echo) {
      c.session = await echoTerminal(c.open, `${c.provider} ${c.isolation} ${c.client}`, log);
      Object.assign(c, { backToBack: fresh(), spaced: fresh() });
      await roundTrips(c, warmup);
      Object.assign(c, { backToBack: fresh(), spaced: fresh() });
    }
    for (let r = 0; r < rounds; r++) {
      const order = echo.map((_, i) => echo[(i + r) % echo.length]);
      for (const c of order) {
        await roundTrips(c, Math.min(batch, count - r * batch));
        await roundTrips(c, Math.min(spacedBatch, spacedCount - r * spacedBatch), GAP_MS);
      }
    }
    for (const c of echo) await c.session.terminal.close();
    const figures = (f) => ({ ...summary(f), lost: f.lost });
    const echoResults = echo.map((c) => ({ provider: c.provider, isolation: c.isolation, client: c.client, backToBack: figures(c.backToBack), spaced: figures(c.spaced) }));

    // --- throughput: runCodeStream and a terminal printing the same amount ---
    const lines = quick ? 20_000 : streamMegabytes * 10_000;
    const bytes = lines * 100;
    const runs = quick ? 1 : 3;
    log(`streamed output: ${bytes / 1e6} MB through runCodeStream and through a terminal, ${runs} run(s) per contender, interleaved...`);
    const streams = isolations.flatMap((isolation) => [
      { isolation: label[isolation], client: 'sandbox-procs', run: (n = lines) => streamThroughput((code) => hopx[isolation].ours.runCodeStream({ code, language: 'bash', timeout: 300 }), n) },
      { isolation: label[isolation], client: '@hopx-ai/sdk', run: (n = lines) => streamThroughput((code) => hopx[isolation].sdk.runCodeStream(code, { language: 'bash', timeout: 300 }), n) },
    ]).map((c) => ({ ...c, results: [] }));
    const terminals = [
      ...isolations.flatMap((isolation) => [
        { provider: 'hopx', isolation: label[isolation], client: 'sandbox-procs', open: openOurs(hopx[isolation].ours) },
        { provider: 'hopx', isolation: label[isolation], client: '@hopx-ai/sdk', open: openSdk(hopx[isolation].sdk) },
      ]),
      { provider: 'tensorlake', isolation: 'unconfined', client: 'sandbox-procs', open: openTensorlakeShell(tensorlake.ours) },
    ].map((c) => ({ ...c, results: [] }));
    // A small run each first: the first session of a kind pays one-time costs (loading, compiling the message checks) that are not throughput.
    for (const c of streams) await c.run(Math.ceil(lines / 16));
    for (const c of terminals) await terminalThroughput(c.open, Math.ceil(bytes / 16), 'w');
    for (let r = 0; r < runs; r++) {
      const rotate = (list) => list.map((_, i) => list[(i + r) % list.length]);
      for (const c of rotate(streams)) c.results.push(await c.run(lines));
      for (const c of rotate(terminals)) c.results.push(await terminalThroughput(c.open, bytes, r));
    }
    const streamResults = streams.map((c) => ({ isolation: c.isolation, client: c.client, complete: c.results.every((x) => x.complete), ...throughputSummary(c.results, bytes) }));
    const terminalResults = terminals.map((c) => ({ provider: c.provider, isolation: c.isolation, client: c.client, ...throughputSummary(c.results, bytes) }));

    const find = (list, isolation, client, provider = 'hopx') => list.find((x) => (x.provider ?? 'hopx') === provider && x.isolation === isolation && x.client === client);
    const ratios = isolations.map((isolation) => {
      const l = label[isolation];
      return {
        isolation: l,
        echoP50OursOverSdk: ratio(find(echoResults, l, 'sandbox-procs').backToBack.medianMs, find(echoResults, l, '@hopx-ai/sdk').backToBack.medianMs),
        echoSpacedP50OursOverSdk: ratio(find(echoResults, l, 'sandbox-procs').spaced.medianMs, find(echoResults, l, '@hopx-ai/sdk').spaced.medianMs),
        streamMBpsOursOverSdk: ratio(find(streamResults, l, 'sandbox-procs').medianMBps, find(streamResults, l, '@hopx-ai/sdk').medianMBps),
        terminalMBpsOursOverSdk: ratio(find(terminalResults, l, 'sandbox-procs').medianMBps, find(terminalResults, l, '@hopx-ai/sdk').medianMBps),
      };
    });
    return { roundTrip: { method: 'a line written to `cat >/dev/null`, timed until the terminal echoes it (canonical mode, echo on)', gapMs: GAP_MS, warmup, results: echoResults }, stream: { bytes, results: streamResults }, terminal: { bytes, results: terminalResults }, ratios };
  } finally {
    await Promise.all([...Object.values(hopx).map((s) => s.stop()), tensorlake.stop()]);
  }
}

export function terminalLines({ roundTrip, stream, terminal, ratios }) {
  const pad = (s, n) => String(s).padEnd(n);
  const who = (r) => `${r.provider ?? 'hopx'} ${r.isolation}`;
  const mbps = (r) => `${r.medianMBps} MB/s (min ${r.minMBps})${r.allReceived ? '' : `, INCOMPLETE: ${r.receivedBytes.join(', ')} of ${r.expectedBytes} bytes`}`;
  return [
    `terminal echo round trip (a line to \`cat >/dev/null\`, back as the terminal's echo): ${roundTrip.results[0].backToBack.calls} back to back, ${roundTrip.results[0].spaced.calls} spaced by ${roundTrip.gapMs} ms, per contender; target p50 under 2 ms`,
    `${pad('terminal', 24)}${pad('client', 16)}${pad('back to back p50 / p99', 26)}${pad('round trips/s', 15)}${pad('spaced p50 / p99', 22)}lost`,
    ...roundTrip.results.map(
      (r) =>
        `${pad(who(r), 24)}${pad(r.client, 16)}${pad(`${r.backToBack.medianMs.toFixed(3)} / ${r.backToBack.p99Ms.toFixed(2)} ms`, 26)}${pad(r.backToBack.callsPerSecond, 15)}${pad(`${r.spaced.medianMs.toFixed(3)} / ${r.spaced.p99Ms.toFixed(2)} ms`, 22)}${r.backToBack.lost + r.spaced.lost}`,
    ),
    `streamed output, ${stream.bytes / 1e6} MB: runCodeStream (bash, lines of 100 bytes) and a terminal (tr, no newlines); target at least the SDK's throughput`,
    ...stream.results.map((r) => `${pad(`runCodeStream ${who(r)}`, 40)}${pad(r.client, 16)}${mbps(r)}`),
    ...terminal.results.map((r) => `${pad(`terminal ${who(r)}`, 40)}${pad(r.client, 16)}${mbps(r)}`),
    ...ratios.map((r) => `hopx ${r.isolation}, sandbox-procs over @hopx-ai/sdk: echo p50 x${r.echoP50OursOverSdk} (spaced x${r.echoSpacedP50OursOverSdk}), runCodeStream MB/s x${r.streamMBpsOursOverSdk}, terminal MB/s x${r.terminalMBpsOursOverSdk}`),
  ];
}
