// Drives a PTY session of the Tensorlake control plane with the official `tensorlake`
// SDK as a user's code would (configured by the environment only): Sandbox.create,
// createPty (its onData), sendInput "echo hi", resize, connectPty again to the same
// session (what it replays), kill, terminate. Run under Node >= 22 by
// test/official-sdk-tensorlake-pty.test.ts. Every request and every WebSocket
// message goes through logging proxies (logging-proxy.mjs), which the SDK sees in
// place of TENSORLAKE_API_URL and TENSORLAKE_SANDBOX_PROXY_URL, so that the test can
// validate them against the contract. Output: one JSON line {steps, output, requests, channels, ...}.
import { startLoggingProxy } from './logging-proxy.mjs';

const API_KEY = process.env.TENSORLAKE_API_KEY;
const API_URL = process.env.TENSORLAKE_API_URL;
const PROXY_URL = process.env.TENSORLAKE_SANDBOX_PROXY_URL;
if (!API_KEY || !API_URL || !PROXY_URL) {
  console.error('run-pty.mjs needs TENSORLAKE_API_URL, TENSORLAKE_SANDBOX_PROXY_URL and TENSORLAKE_API_KEY');
  process.exit(2);
}
const result = { steps: [], requests: [], channels: [] };
const proxies = new Map();
for (const url of new Set([API_URL, PROXY_URL])) proxies.set(url, await startLoggingProxy(url, { owner: () => result, secrets: [API_KEY], channels: result.channels }));
// The SDK reads these when it is loaded: point them at the proxies first.
process.env.TENSORLAKE_API_URL = proxies.get(API_URL).url;
process.env.TENSORLAKE_SANDBOX_PROXY_URL = proxies.get(PROXY_URL).url;
const { Sandbox } = await import('tensorlake');

const deadline = (promise, ms, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())]);
const waitFor = async (test, ms, what) => {
  const until = Date.now() + ms;
  while (!test()) {
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
let sandbox;
try {
  sandbox = await deadline(Sandbox.create({}), 20_000, 'create');
  result.steps.push('create');
  let first = '';
  const pty = await deadline(sandbox.createPty({ command: 'sh', rows: 24, cols: 80, onData: (data) => (first += Buffer.from(data).toString()) }), 15_000, 'createPty');
  result.steps.push('createPty');
  // How the session's end reaches each handle (a kill: the daemon's 1001 "session terminated").
  const ended = (handle, name) => handle.wait().then((code) => (result[name] = { exitCode: code }), (error) => (result[name] = { error: error.message }));
  const firstEnded = ended(pty, 'firstEnd');
  await pty.sendInput('echo h""i\n');
  await waitFor(() => first.includes('hi\r\n'), 10_000, 'echo hi');
  result.steps.push('echo');
  await pty.resize(120, 40);
  await pty.sendInput('stty size\n');
  await waitFor(() => first.includes('40 120'), 10_000, 'stty size');
  result.steps.push('resize');
  let second = '';
  const again = await deadline(sandbox.connectPty(pty.sessionId, pty.token, { onData: (data) => (second += Buffer.from(data).toString()) }), 15_000, 'connectPty');
  await waitFor(() => second.includes('hi\r\n'), 10_000, 'replay');
  result.steps.push('connectPty');
  const secondEnded = ended(again, 'secondEnd');
  await deadline(again.kill(), 10_000, 'kill');
  await deadline(Promise.all([firstEnded, secondEnded]), 10_000, 'the end of both handles');
  result.steps.push('kill');
  result.output = first;
  result.replayed = second;
} catch (error) {
  result.error = { name: error?.name, message: error?.message };
} finally {
  try {
    await sandbox?.terminate();
  } catch {}
  // Let the proxies finish recording what the SDK already consumed (a close handshake).
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const proxy of proxies.values()) proxy.close();
}
console.log(JSON.stringify(result));
process.exit(0);
