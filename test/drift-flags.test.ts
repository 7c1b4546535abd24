// `sandbox-procs drift` checks every flag and output path before its first
// request: a counting local server proves that nothing was sent; the message
// names the flag; --base-url comes before the token; nothing is left behind.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main, type Io } from '../src/cli.js';
import { createHopxClient } from '../src/index.js';

const root = join(import.meta.dirname, '..');
const run = promisify(execFile);
const TOKEN_ENV = 'DRIFT_FLAGS_TOKEN';

interface Counting {
  baseUrl: string;
  requests: number;
  /** Called on each request before it is answered. */
  onRequest?: () => Promise<void>;
  close(): Promise<void>;
}

/** A real server on 127.0.0.1 that counts what reaches it and answers 200 {}. */
async function startCounting(): Promise<Counting> {
  const state: Counting = { baseUrl: '', requests: 0, close: async () => undefined };
  const server = createServer((req, res) => {
    state.requests++;
    req.resume();
    req.on('end', async () => {
      await state.onRequest?.();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

function capture(): Io & { text: () => string; stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    color: false,
    out: (t: string) => void (io.stdout += t),
    err: (t: string) => void (io.stderr += t),
    text: () => io.stdout + io.stderr,
  };
  return io;
}

let server: Counting;
let dir: string;
beforeAll(async () => {
  server = await startCounting();
  dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-drift-flags-'));
});
afterAll(async () => {
  delete process.env[TOKEN_ENV];
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  server.requests = 0;
  server.onRequest = undefined;
  process.env[TOKEN_ENV] = 'flags-token-0123456789';
});

/** drift with a valid provider, base URL and token, plus `args`; in process. */
async function drift(args: string[], { baseUrl = server.baseUrl, tokenSet = true } = {}) {
  if (!tokenSet) delete process.env[TOKEN_ENV];
  const io = capture();
  const code = await main(['drift', '--provider', 'hopx', '--base-url', baseUrl, '--token-env', TOKEN_ENV, '--allow-mutations', ...args], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe('output files are checked before the first request', () => {
  it.each([
    ['--json into a folder that does not exist', () => ['--json', join(dir, 'missing', 'r.json')], /^error: --json \S+: the folder \S+missing does not exist; nothing was run$/m],
    ['--junit into a folder that does not exist', () => ['--junit', join(dir, 'missing', 'deeper', 'r.xml')], /^error: --junit \S+: the folder \S+deeper does not exist/m],
    ['--json under a file', () => ['--json', join(dir, 'a-file', 'r.json')], /^error: --json \S+: \S+a-file is not a folder/m],
    ['--junit naming a folder', () => ['--junit', dir], /^error: --junit \S+: it is a folder, not a file/m],
    ['--json empty', () => ['--json', ''], /^error: --json needs a file name/m],
    ['--json and --junit the same file', () => ['--json', join(dir, 'same'), '--junit', join(dir, '.', 'same')], /^error: --json and --junit name the same file/m],
    ['--html into a folder that does not exist', () => ['--html', join(dir, 'missing', 'r.html')], /^error: --html \S+: the folder \S+missing does not exist; nothing was run$/m],
    ['--junit and --html the same file', () => ['--junit', join(dir, 'same'), '--html', join(dir, 'same')], /^error: --junit and --html name the same file/m],
    ['a valid --json but a missing --junit folder', () => ['--json', join(dir, 'ok.json'), '--junit', join(dir, 'missing', 'r.xml')], /^error: --junit /m],
  ])('%s: exit 2, no request, no file', async (_name, args, message) => {
    await writeFile(join(dir, 'a-file'), 'x');
    const before = await readdir(dir);
    const result = await drift(args());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/Run `sandbox-procs drift --help` for usage/);
    expect(server.requests).toBe(0);
    expect(await readdir(dir)).toEqual(before);
  });

  it('a missing --json folder is reported before an unset token, and without the token in the message', async () => {
    const result = await drift(['--json', join(dir, 'missing', 'r.json')], { tokenSet: false });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--json .*does not exist/);
    expect(result.stderr).not.toMatch(/DRIFT_FLAGS_TOKEN/);
  });

  it('files are written only when the run has finished; one that cannot be written does not cost the other', async () => {
    const jsonDir = join(dir, 'goes-away');
    await mkdir(jsonDir);
    const json = join(jsonDir, 'r.json');
    const junit = join(dir, 'kept.xml');
    // The folder was there when the flags were checked; it is gone by the time the report is written.
    let junitDuringRun = false;
    server.onRequest = async () => {
      junitDuringRun ||= existsSync(junit);
      await rm(jsonDir, { recursive: true, force: true });
    };
    const result = await drift(['--json', json, '--junit', junit]);
    expect(server.requests).toBeGreaterThan(0);
    expect(junitDuringRun).toBe(false);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: could not write the --json file \S+r\.json: ENOENT/m);
    expect(await readFile(junit, 'utf8')).toMatch(/^<\?xml[\s\S]*<\/testsuites>\n$/);
    // The verdict was printed before.
    expect(result.stdout).toMatch(/DRIFT in \d+ of \d+ checks/);
  });
});

describe('--timeout-ms', () => {
  it.each(['3000000000', '2147483648', '0', '1.5', '1e3', 'abc', '', ' 5', '0x10'])('"%s": exit 2, no request, the message names the flag and the range', async (value) => {
    const result = await drift(['--timeout-ms', value, '--json', join(dir, 't.json')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`error: --timeout-ms must be a whole number of milliseconds from 1 to 2147483647, got "${value}"`);
    expect(server.requests).toBe(0);
    expect(existsSync(join(dir, 't.json'))).toBe(false);
  });

  it('a negative value: exit 2 and the flag named (by the parser)', async () => {
    const result = await drift(['--timeout-ms', '-5']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--timeout-ms/);
    expect(server.requests).toBe(0);
  });

  it('2147483647, the largest, is accepted and used as given (not as 1 ms)', async () => {
    const result = await drift(['--timeout-ms', '2147483647']);
    expect(server.requests).toBeGreaterThan(0);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toMatch(/did not answer in time|TimeoutError/);
  });
});

describe('--base-url', () => {
  it.each([
    ['not-a-url', /^error: --base-url must be an absolute http\(s\) URL .*got "not-a-url"$/m],
    ['127.0.0.1:PORT', /^error: --base-url must be an absolute http\(s\) URL/m],
    ['localhost:PORT', /^error: --base-url must be an absolute http\(s\) URL/m],
    ['ftp://127.0.0.1:PORT', /^error: --base-url must be an absolute http\(s\) URL/m],
    ['http://user:secret-pw@127.0.0.1:PORT', /^error: --base-url must not carry credentials/m],
    ['http://sandbox.example.com', /^error: --base-url: refusing to send an API key over plain http/m],
    ['http://127.0.0.1:PORT/?x=1', /^error: --base-url must not have a query or a fragment/m],
  ])('%s: exit 2, no request, named as --base-url, before the token check', async (url, message) => {
    const port = new URL(server.baseUrl).port;
    for (const tokenSet of [true, false]) {
      const result = await drift([], { baseUrl: url.replace('PORT', port), tokenSet });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/createClient|DRIFT_FLAGS_TOKEN|secret-pw/);
      expect(server.requests).toBe(0);
    }
  });

  it('accepts what the clients accept, refuses what they refuse', async () => {
    const port = new URL(server.baseUrl).port;
    for (const url of [server.baseUrl, `http://localhost:${port}`, `http://[::1]:${port}`, 'https://7777-sbx.eu.vms.hopx.dev', 'https://h.example/base/', 'not-a-url', 'ftp://h', 'http://u:p@127.0.0.1', 'http://example.com']) {
      const clientAccepts = (() => {
        try {
          createHopxClient({ apiKey: 'k', baseUrl: url });
          return true;
        } catch {
          return false;
        }
      })();
      // An unset token: the flags pass or fail on their own, and nothing is sent either way.
      const result = await drift([], { baseUrl: url, tokenSet: false });
      expect(result.stderr.includes('--base-url'), `${url}: ${result.stderr}`).toBe(!clientAccepts);
    }
    expect(server.requests).toBe(0);
  });
});

describe('the token', () => {
  it.each([
    ['a control character', 'abc\u0001def-0123456789'],
    ['a character past U+00FF', 'abc\u20acdef-0123456789'],
  ])('holding %s: exit 2 before any request, without echoing it', async (_name, token) => {
    process.env[TOKEN_ENV] = token;
    const result = await drift([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/the token in DRIFT_FLAGS_TOKEN holds characters an HTTP header cannot carry/);
    expect(result.stderr).not.toContain('def-0123456789');
    expect(server.requests).toBe(0);
  });

  // Redaction hides every form of the token wherever it occurs: `ok` would hide every
  // result cell, `x` half the words, `list_processes` the operations themselves.
  it.each([
    ['two characters', 'ok', /has fewer than 8 characters: too short to be an API key/],
    ['one character', 'x', /has fewer than 8 characters/],
    ['seven characters', 'q7Zk2mW', /has fewer than 8 characters/],
    ['an operation name', 'list_processes', /is among the words the report itself prints/],
    ['an operation name in another case', 'EXECUTE_CODE_BACKGROUND', /is among the words the report itself prints/],
    ['a case name', 'unknown process', /is among the words the report itself prints/],
    ['a word of the progress lines', 'Checking', /is among the words the report itself prints/],
    ['a JUnit element', 'testsuites', /is among the words the report itself prints/],
    ['a kill-form verdict', 'accepted-with-drift', /is among the words the report itself prints/],
  ])('that is %s: exit 2 before any request, in one line that does not echo it', async (_name, token, message) => {
    process.env[TOKEN_ENV] = token;
    const result = await drift([]);
    expect(result.code).toBe(2);
    const [line] = result.stderr.split('\n');
    expect(line).toMatch(message);
    expect(line).toMatch(/^error: the token in DRIFT_FLAGS_TOKEN /);
    expect(line!.replace(/^error: the token in DRIFT_FLAGS_TOKEN /, '').toLowerCase()).not.toContain(token.toLowerCase());
    expect(result.stdout).toBe('');
    expect(server.requests).toBe(0);
  });

  it('of exactly 8 characters found in no word of the report: it runs, and the report keeps its words', async () => {
    process.env[TOKEN_ENV] = 'q7Zk2mWp';
    const result = await drift([]);
    expect(result.code, result.stderr).not.toBe(2);
    expect(server.requests).toBeGreaterThan(0);
    expect(result.stdout).toMatch(/^OPERATION +CASE +STATUS +RESULT +TIME$/m);
    expect(result.stdout).toMatch(/^list_processes +valid request +200 +DRIFT /m);
    expect(result.stdout).toMatch(/^list_processes +no credentials +401->200 +DRIFT /m);
    expect(result.stdout).not.toContain('[REDACTED]');
  });
});

describe('the built CLI (child process): the acceptance cases', () => {
  const cli = (args: string[], extra: Record<string, string | undefined>) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
    return run(process.execPath, [join(root, 'dist/src/bin.js'), 'drift', ...args], { env, timeout: 30_000 }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
  };

  it('--json into a missing folder, with mutations: exit 2 before any request', async () => {
    const result = await cli(['--provider', 'hopx', '--base-url', server.baseUrl, '--allow-mutations', '--json', join(dir, 'nope', 'r.json'), '--junit', join(dir, 'x.xml')], {
      HOPX_AUTH_TOKEN: 'tok-0123456789',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: --json \S+: the folder \S+nope does not exist; nothing was run$/m);
    expect(result.stdout).toBe('');
    expect(server.requests).toBe(0);
    expect(existsSync(join(dir, 'x.xml'))).toBe(false);
  });

  it('--timeout-ms 3000000000: exit 2 before any request', async () => {
    const result = await cli(['--provider', 'hopx', '--base-url', server.baseUrl, '--timeout-ms', '3000000000'], { HOPX_AUTH_TOKEN: 'tok-0123456789' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--timeout-ms must be a whole number of milliseconds from 1 to 2147483647, got "3000000000"/);
    expect(server.requests).toBe(0);
  });

  it('a bad --base-url, token unset: the URL is reported, not the token', async () => {
    const port = new URL(server.baseUrl).port;
    const result = await cli(['--provider', 'hopx', '--base-url', `localhost:${port}`], { HOPX_AUTH_TOKEN: undefined });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: --base-url must be an absolute http\(s\) URL/m);
    expect(result.stderr).not.toMatch(/HOPX_AUTH_TOKEN|createClient/);
    expect(server.requests).toBe(0);
  });
});
