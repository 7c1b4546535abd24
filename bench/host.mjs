// A host script in a process of its own (an emulator to measure from outside): it
// prints one JSON line when ready and stops when its stdin closes.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** Starts `script` with `args`: what its first line says, and a stop that closes its stdin and waits (SIGKILL after 10 s). */
export async function startHost(script, args) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = await once(createInterface({ input: child.stdout }), 'line');
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { ready: JSON.parse(line), stop };
}
