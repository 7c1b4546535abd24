// An emulator in a process of its own, for measuring it from outside (RSS,
// latency): `node emulator-host.mjs <emulator module> <provider> [limits JSON] [isolation mode]`.
// Prints one JSON line {baseUrl, token, pid}; stops when its stdin closes (its
// parent is gone) or on SIGTERM/SIGINT.
import { pathToFileURL } from 'node:url';

const [modulePath, provider, limitsJson, isolation] = process.argv.slice(2);
const { startEmulator } = await import(pathToFileURL(modulePath).href);
const emulator = await startEmulator(provider, { ...(limitsJson ? { limits: JSON.parse(limitsJson) } : {}), ...(isolation ? { isolation } : {}) });
process.stdout.write(`${JSON.stringify({ baseUrl: emulator.baseUrl, token: emulator.token, pid: process.pid })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void emulator.stop().then(() => process.exit(0)));
