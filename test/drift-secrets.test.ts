// The token never shows in what `sandbox-procs drift` prints or writes, raw or
// escaped (JSON, XML, URL encoding), even when a hostile server echoes it back
// in bodies (as values and as field names), in headers and in its status text.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { main, type Io } from '../src/cli.js';
import { runDrift } from '../src/contract/drift.js';
import { isReportVocabulary } from '../src/contract/report-vocabulary.js';
import { REDACTED, redactDeep, redactText } from '../src/core/redact.js';
import { runs as propertyRuns } from './support/profile.js';

// The engine compiles the specs' schemas (ajv) once per run; a thousand runs share one
// compiled validator per provider. Validation itself is unchanged.
vi.mock('../src/contract/validate.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/contract/validate.js')>();
  const shared = new Map<string, object>();
  const SpecValidator = new Proxy(original.SpecValidator, {
    construct(target, args: [never, never?]) {
      if (args.length > 1 && args[1] !== undefined) return new target(...args);
      let validator = shared.get(args[0]);
      if (!validator) shared.set(args[0], (validator = new target(...args)));
      return validator;
    },
  });
  return { ...original, SpecValidator };
});

// The property's thousand runs use a small check set of each kind (reads, an unknown id, no
// credentials, a stream, a raw probe); the full set runs in the other tests of this file.
const small = vi.hoisted(() => ({ on: false }));
const SMALL_SET = new Set([
  'list_processes 200', 'list_processes 401', 'kill_process 404', 'kill_process_by_path 404', 'get_health 200', 'execute_code 400',
  'sandbox_process_list 200', 'sandbox_process_get 404', 'sandbox_process_follow_stdout 200', 'sandbox_info 200', 'sandbox_health 401', 'sandbox_process_start 415',
]);
vi.mock('../src/contract/scenarios.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/contract/scenarios.js')>();
  const scenariosFor: typeof original.scenariosFor = (selected) => {
    const all = original.scenariosFor(selected);
    if (!small.on) return all;
    const seen = new Set<string>();
    // One scenario of each listed (operation, status).
    return all.filter((s) => {
      const key = `${s.operation} ${s.status}`;
      if (!SMALL_SET.has(key) || seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  };
  return { ...original, scenariosFor };
});

const root = join(import.meta.dirname, '..');
const run = promisify(execFile);

// ---- the tokens ---------------------------------------------------------------------------

const HOSTILE = ['"', '\\', '<', '>', '&', "'", ' ', '%', '+', '/', '~', ';', '=', ',', '#', '?', ':', 'é', 'ü', 'ÿ', 'ß', '±', '¿', 'Ä'];
const ALNUM = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'];
/**
 * Tokens an HTTP header can carry (Latin-1, no control characters, no blank at
 * either end), with at least 8 random letters or digits, so that none can occur
 * in a report by chance, and any of the characters escaping treats specially.
 */
const tokens = fc
  .array(fc.oneof({ arbitrary: fc.constantFrom(...HOSTILE), weight: 2 }, { arbitrary: fc.constantFrom(...ALNUM), weight: 3 }), { minLength: 12, maxLength: 40 })
  .map((chars) => chars.join(''))
  .filter((token) => token.trim() === token && [...token].filter((c) => ALNUM.includes(c)).length >= 8);
/** Whole drift runs with a random token each: 1,000 in the full profile. */
const TOKEN_RUNS = propertyRuns(1_000);
const NASTY = ['tok"SECRET<&>0123', 'a\\"b\\\\c<d>&e\'f g%20h+i/j~k éüÿ 9Z8Y7X', "O'Reilly & <Sons> \"q\" 12345678 ßÄ", 'abc%2Fdef+ghi 1234&amp;5678'];

/** Every form in which a token would give itself away in text. */
function encodings(token: string): Array<[string, string]> {
  const json = JSON.stringify(token).slice(1, -1);
  const xml = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const forms: Array<[string, string]> = [
    ['raw', token],
    ['lowercase', token.toLowerCase()],
    ['JSON', json],
    ['JSON, ASCII only', json.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)],
    ['JSON twice', JSON.stringify(json).slice(1, -1)],
    ['XML', xml(token)],
    ['XML with &apos;', xml(token).replace(/'/g, '&apos;')],
    ['XML with &#39;', xml(token).replace(/'/g, '&#39;')],
    ['XML of JSON', xml(json)],
    ['URL, percent-encoded', encodeURIComponent(token)],
    ['URL, form (+ for spaces)', new URLSearchParams({ t: token }).toString().slice(2)],
    ['URL, encodeURI', encodeURI(token)],
    ['URL, Latin-1 (escape)', escape(token)],
    ['URL, twice', encodeURIComponent(encodeURIComponent(token))],
    ['Bearer, URL', encodeURIComponent(`Bearer ${token}`)],
  ];
  return forms.filter(([, form], i) => forms.findIndex(([, other]) => other === form) === i);
}

/** The leaks in `outputs`: [output name, encoding] pairs; empty when there is none. */
function leaks(token: string, outputs: Record<string, string>): string[] {
  const found: string[] = [];
  const compact = token.replace(/\s+/g, '');
  for (const [name, text] of Object.entries(outputs)) {
    for (const [encoding, form] of encodings(token)) if (text.includes(form)) found.push(`${name}: ${encoding}`);
    // Split across lines or cells: the token's characters in a row, whatever whitespace lies between them.
    if (text.replace(/\s+/g, '').includes(compact)) found.push(`${name}: split by whitespace`);
  }
  return found;
}

// ---- the hostile server -------------------------------------------------------------------

interface Hostile {
  baseUrl: string;
  /** The token it echoes to requests that carry none. */
  token: string;
  requests: number;
  close(): Promise<void>;
}

/**
 * A real node:http server that answers every request with the token it was sent,
 * in one of several ways (by turns): as a field name and a value of a JSON body, in
 * escaped forms inside an error message, as the status text, as the content type
 * and other headers, as a plain-text body, and as an event name of an event stream.
 */
async function startHostile(): Promise<Hostile> {
  const state = { token: '', requests: 0 };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : state.token;
      const forms = encodings(token).map(([, form]) => form);
      const echo = `Bearer ${token} | ${forms.join(' | ')}`;
      const mode = state.requests++ % 7;
      // Status text travels as bytes and is read as UTF-8; headers are read as Latin-1.
      const statusText = Buffer.from(token, 'utf8').toString('latin1');
      const headers = { 'x-request-id': token, 'www-authenticate': `Bearer realm="${token}"`, 'x-echo': `Bearer ${token}` };
      const body = { [token]: token, [forms[2]!]: 1, error: echo, message: echo, code: token, processes: [{ [token]: token, process_id: token, status: token }] };
      if (mode === 0) {
        res.writeHead(200, statusText, { ...headers, 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      } else if (mode === 1) {
        res.writeHead(404, statusText, { ...headers, 'content-type': 'application/json' });
        res.end('{}');
      } else if (mode === 2) {
        res.writeHead(400, statusText, { ...headers, 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      } else if (mode === 3) {
        res.writeHead(200, { ...headers, 'content-type': token });
        res.end(JSON.stringify(body));
      } else if (mode === 4) {
        res.writeHead(400, statusText, { ...headers, 'content-type': 'text/plain' });
        res.end(echo);
      } else if (mode === 5) {
        res.writeHead(200, { ...headers, 'content-type': 'text/event-stream' });
        res.end(`event: ${token.replace(/[\r\n]/g, '')}\ndata: ${JSON.stringify(body)}\n\n`);
      } else {
        res.writeHead(500, statusText, { ...headers, 'content-type': 'text/html' });
        res.end(`<html><body>${echo}</body></html>`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get token() {
      return state.token;
    },
    set token(value: string) {
      state.token = value;
    },
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function capture(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', color: false, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

let server: Hostile;
let dir: string;
beforeAll(async () => {
  server = await startHostile();
  dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-drift-secrets-'));
});
afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('redactText', () => {
  it('finds a token in every escaped form, mixed forms and any case, and leaves other text alone', () => {
    fc.assert(
      fc.property(tokens, fc.string({ maxLength: 20 }), (token, around) => {
        for (const [, form] of encodings(token)) {
          const redacted = redactText(`<${around}>${form}<${around}>`, token);
          expect(leaks(token, { redacted })).toEqual([]);
          expect(redacted).toContain(REDACTED);
        }
        // Half in one form, half in another.
        const half = Math.floor(token.length / 2);
        expect(redactText(`x${JSON.stringify(token.slice(0, half)).slice(1, -1)}${encodeURIComponent(token.slice(half))}x`, token)).toBe(`x${REDACTED}x`);
        expect(redactText('nothing secret here: 0123456789', token)).toBe('nothing secret here: 0123456789');
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it('any Unicode secret, astral characters included, in raw, JSON (\\u escapes) and percent-encoded forms', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), (secret) => {
        const token = `${secret}Zq8x`;
        const asciiJson = JSON.stringify(token).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
        const percent = (() => {
          try {
            return [encodeURIComponent(token)];
          } catch {
            return []; // a lone surrogate has no UTF-8 form
          }
        })();
        for (const form of [token, JSON.stringify(token), asciiJson, ...percent]) {
          const redacted = redactText(`<${form}>`, token);
          expect(redacted).not.toContain(token);
          expect(redacted).toBe(form.startsWith('"') ? `<"${REDACTED}">` : `<${REDACTED}>`);
        }
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it('redacts object keys too, and what is left of a token once a header trims it', () => {
    expect(redactDeep({ ['a"b secret 1234']: ['x a"b secret 1234 y'] }, 'a"b secret 1234')).toEqual({ [REDACTED]: [`x ${REDACTED} y`] });
    expect(redactText('Bearer tok123456', ' tok123456 ')).toBe(`Bearer ${REDACTED}`);
  });

  it('stays linear on hostile input (long runs of backslashes, entities, percent signs)', () => {
    const started = performance.now();
    for (const text of ['\\'.repeat(20_000), '&amp;'.repeat(5_000), '%25'.repeat(7_000), '\\u00'.repeat(5_000)]) {
      expect(redactText(text, '\\\\\\"&amp;%25\\u00 token1234')).toBe(text);
    }
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('the words of the report, which no accepted token may be among', () => {
  it('hold every operation and case name, heading and markup word drift prints, in any case; a random token is not among them', () => {
    for (const provider of ['hopx', 'tensorlake'] as const) {
      for (const word of ['OPERATION', 'valid request', 'no credentials', 'lifecycle', 'gone', 'DRIFT', 'testcase', 'missing-route', 'expectedStatus', 'mutations allowed']) {
        expect(isReportVocabulary(provider, word), `${provider}: ${word}`).toBe(true);
      }
      expect(isReportVocabulary(provider, 'MISSING-ROUTE')).toBe(true);
      fc.assert(fc.property(tokens, (token) => !isReportVocabulary(provider, token)), { numRuns: propertyRuns(200) });
    }
    expect(isReportVocabulary('hopx', 'kill_process_by_path')).toBe(true);
    expect(isReportVocabulary('tensorlake', 'kill_process_by_path')).toBe(false);
  });
});

describe('drift never shows the token, whatever the server echoes', () => {
  it('without the CLI, the echoes do reach the engine\'s report (so the checks below can fail)', async () => {
    server.token = NASTY[0]!;
    const report = await runDrift({ provider: 'hopx', baseUrl: server.baseUrl, token: NASTY[0]!, toolVersion: 'test', timeoutMs: 5_000 });
    expect(leaks(NASTY[0]!, { report: JSON.stringify(report) }).length).toBeGreaterThan(0);
  });

  it(`in-process CLI: ${TOKEN_RUNS.toLocaleString('en')} random tokens, no form of any in stdout, stderr, the JSON file or the JUnit file`, async () => {
    const json = join(dir, 'report.json');
    const junit = join(dir, 'report.xml');
    let runs = 0;
    small.on = true;
    onTestFinished(() => void (small.on = false));
    await fc.assert(
      fc.asyncProperty(tokens, fc.constantFrom('hopx', 'hopx', 'hopx', 'tensorlake'), async (token, provider) => {
        runs++;
        server.token = token;
        process.env.DRIFT_SECRETS_TOKEN = token;
        const io = capture();
        const code = await main(['drift', '--provider', provider, '--base-url', server.baseUrl, '--token-env', 'DRIFT_SECRETS_TOKEN', '--json', json, '--junit', junit, '--timeout-ms', '5000'], io);
        const outputs = { stdout: io.stdout, stderr: io.stderr, json: await readFile(json, 'utf8'), junit: await readFile(junit, 'utf8') };
        expect(code, io.stderr).toBe(1);
        const report = JSON.parse(outputs.json) as { checks: Array<{ operation: string; case: string }> };
        expect(report.checks.length).toBeGreaterThanOrEqual(5);
        expect(leaks(token, outputs)).toEqual([]);
        // Redaction took none of the report's own words (a token of 8 characters or more, in none of them).
        expect(report.checks.filter((c) => `${c.operation} ${c.case}`.includes(REDACTED))).toEqual([]);
        expect(outputs.stdout).toMatch(/^OPERATION +CASE +STATUS +RESULT +TIME$/m);
        for (const c of report.checks) expect(outputs.junit).toContain(`classname="${provider}.${c.operation}"`);
        // The echoes reached every output, and were redacted there.
        for (const name of ['stdout', 'json', 'junit'] as const) expect(outputs[name], name).toContain(REDACTED);
      }),
      { numRuns: TOKEN_RUNS, examples: NASTY.map((t) => [t, 'hopx'] as [string, string]) },
    );
    expect(runs).toBeGreaterThanOrEqual(TOKEN_RUNS);
  }, 600_000);

  it('the built CLI, in a child process: no form of the token in any output', async () => {
    const chosen = [...NASTY, ...fc.sample(tokens, { numRuns: 3, seed: Date.now() })];
    for (const [i, token] of chosen.entries()) {
      server.token = token;
      const provider = i % 2 === 0 ? 'hopx' : 'tensorlake';
      const json = join(dir, `cli-${i}.json`);
      const junit = join(dir, `cli-${i}.xml`);
      const result = await run(
        process.execPath,
        [join(root, 'dist/src/bin.js'), 'drift', '--provider', provider, '--base-url', server.baseUrl, '--token-env', 'DRIFT_SECRET', '--json', json, '--junit', junit, '--timeout-ms', '5000'],
        { env: { ...process.env, NO_COLOR: '1', DRIFT_SECRET: token }, timeout: 60_000 },
      ).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      expect(result.code, result.stderr).toBe(1);
      const outputs = { stdout: result.stdout, stderr: result.stderr, json: await readFile(json, 'utf8'), junit: await readFile(junit, 'utf8') };
      expect(leaks(token, outputs), token).toEqual([]);
      expect(outputs.json).toContain(REDACTED);
    }
  }, 300_000);
});
