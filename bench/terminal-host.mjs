// An emulator in a process of its own for bench/terminal.mjs, so that the clients
// measured and the server they talk to do not share one event loop (as a user's
// program and `sandbox-procs emulate` do not):
// `node terminal-host.mjs <provider> <options JSON>` (startEmulator's options).
// Prints one JSON line {baseUrl, token}; stops when its stdin closes (its parent is gone).
import { startEmulator } from '../dist/src/emulator/index.js';

const [provider, optionsJson] = process.argv.slice(2);
const emulator = await startEmulator(provider, JSON.parse(optionsJson ?? '{}'));
process.stdout.write(`${JSON.stringify({ baseUrl: emulator.baseUrl, token: emulator.token })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void emulator.stop().then(() => process.exit(0)));
