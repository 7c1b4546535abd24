// Drives a PTY session of the Tensorlake control plane with the official `tensorlake`
// SDK as a user's code would (configured by the environment only): Sandbox.create,
// createPty (its onData), sendInput "echo hi", resize, connectPty again to the same
// session (what it replays), kill, terminate. Run under Node >= 22 by
// test/official-sdk-tensorlake-pty.test.ts. Output: one JSON line {steps, output, ...}.
const { Sandbox } = await import('tensorlake');

const result = { steps: [] };
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
}
console.log(JSON.stringify(result));
process.exit(0);
