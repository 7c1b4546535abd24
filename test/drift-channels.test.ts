// `sandbox-procs drift` on the WebSocket channels, against stand-in servers: the
// channel findings reach the text, JSON (still valid against its schema), JUnit
// and HTML reports, and no form of a random API key or PTY session token, echoed
// back by a hostile server in messages, close reasons and refusals, appears in any.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { main, type Io } from '../src/cli.js';
import { runDrift } from '../src/contract/drift.js';
import { renderDriftTable, renderJunit } from '../src/contract/drift-report.js';
import { renderDriftHtml } from '../src/contract/html-report.js';
import { containsSecret } from '../src/core/redact.js';
import { encodePtyFrame } from '../src/providers/tensorlake/pty-frames.js';
import { runs as propertyRuns } from './support/profile.js';
import { sendEach, startStandIn, type StandIn } from './support/channel-standins.js';

vi.mock('../src/specs.js', async (importOriginal) => (await import('./support/channel-standins.js')).specsWithFixtureChannels(importOriginal));
// Only the channels: the HTTP checks have their own suites (drift.test.ts, drift-secrets.test.ts).
vi.mock('../src/contract/scenarios.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/contract/scenarios.js')>();
  return { ...original, scenariosFor: (selected?: Parameters<typeof original.scenariosFor>[0]) => original.scenariosFor(selected).filter((s) => s.channel) };
});

const root = join(import.meta.dirname, '..');
const json = (value: unknown) => JSON.stringify(value);
const pathOf = (req: IncomingMessage) => new URL(req.url ?? '/', 'http://x').pathname;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-drift-channels-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A HopX agent whose stream sends a wrong message, whose terminal refuses every upgrade, and which accepts a request without credentials. */
async function driftedHopx(): Promise<StandIn> {
  return startStandIn({
    refuse: (req) => (pathOf(req) === '/terminal' ? { status: 403, body: json({ error: 'forbidden', code: 'FORBIDDEN' }) } : undefined),
    connection: (socket) =>
      socket.on('message', () => void sendEach(socket, [json({ type: 'stdout', data: 'hi\n', timestamp: 't' }), json({ type: 'result', exit_code: '0', execution_time: 0.01 }), json({ type: 'complete', success: true })])),
  });
}

describe('drift reports the channels in every report', () => {
  it('text, JSON (valid against schemas/drift-report.schema.json), JUnit and HTML carry each channel finding', async () => {
    const server = await driftedHopx();
    try {
      const report = await runDrift({ provider: 'hopx', baseUrl: server.baseUrl, token: `sp-${randomBytes(8).toString('hex')}`, allowMutations: true, toolVersion: 'test', timeoutMs: 2_000 });
      const channelChecks = report.checks.filter((c) => c.operation !== 'lifecycle');
      expect(channelChecks.map((c) => [c.operation, c.case, c.outcome])).toEqual([
        ['executeStream', 'python print', 'drift'],
        ['executeStream', 'bash echo', 'drift'],
        ['executeStream', 'no credentials', 'drift'],
        ['terminal', 'echo, resize, exit', 'drift'],
        ['terminal', 'no credentials', 'drift'],
      ]);
      const python = channelChecks[0]!;
      expect(python.findings).toEqual([{ severity: 'breaking', kind: 'wrong-type', message: 'server message 1 (result)/exit_code must be integer: "{\\"type\\":\\"result\\",\\"exit_code\\":\\"0\\",\\"execution_time\\":0.01}"' }]);
      expect(python.status).toBe(101);
      expect(python.request).toMatchObject({ method: 'GET', url: expect.stringMatching(/^ws:\/\/127\.0\.0\.1:\d+\/execute\/stream$/), headers: { authorization: 'Bearer [REDACTED]' } });
      const refused = channelChecks[3]!;
      // The refusal, and that the spec declares no such answer for the upgrade (not also the status it came with).
      expect(refused.findings.map((f) => [f.kind, f.message])).toEqual([
        ['upgrade-refused', 'the channel refused the upgrade: 403 "FORBIDDEN"'],
        ['undeclared-status', 'status 403 is not declared for terminal_connect'],
      ]);
      expect(refused.response).toEqual({ status: 403, contentType: 'application/json', bodyExcerpt: '{"error":"forbidden","code":"FORBIDDEN"}' });
      expect(channelChecks[2]!.findings.map((f) => [f.kind, f.message])).toEqual([['unexpected-status', 'expected status 401, got 101 (no content type) "0 server messages, 0 bytes; closed 1000"']]);

      const ajv = new Ajv2020({ allErrors: true, strict: true });
      addFormats.default(ajv);
      const validate = ajv.compile(JSON.parse(await readFile(join(root, 'schemas/drift-report.schema.json'), 'utf8')) as object);
      expect(validate(JSON.parse(JSON.stringify(report))), JSON.stringify(validate.errors)).toBe(true);

      const outputs = { text: renderDriftTable(report), junit: renderJunit(report), html: renderDriftHtml(report) };
      expect(outputs.text).toContain('wrong-type: server message 1 (result)/exit_code must be integer');
      expect(outputs.text).toMatch(/^terminal +echo, resize, exit +101->403 +DRIFT/m);
      expect(outputs.junit).toContain('classname="hopx.executeStream" name="101 python print"');
      expect(outputs.junit).toContain('type="upgrade-refused"');
      expect(outputs.html).toContain('the channel refused the upgrade: 403 &quot;FORBIDDEN&quot;');
    } finally {
      await server.close();
    }
  });
});

// ---- no secret in any report --------------------------------------------------------------

const ALNUM = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'];
const HOSTILE = ['"', '\\', '<', '>', '&', "'", ' ', '%', '+', '/', '~', ';', '=', ',', '#', '?', ':', 'é', 'ü', 'ß'];
/** Tokens an HTTP header can carry, with at least 8 random letters or digits (so none occurs in a report by chance). */
const tokens = fc
  .array(fc.oneof({ arbitrary: fc.constantFrom(...HOSTILE), weight: 1 }, { arbitrary: fc.constantFrom(...ALNUM), weight: 3 }), { minLength: 12, maxLength: 32 })
  .map((chars) => chars.join(''))
  .filter((token) => token.trim() === token && [...token].filter((c) => ALNUM.includes(c)).length >= 8);

/** The secret in forms a server could echo it in. */
const echoes = (secret: string) => [secret, JSON.stringify(secret), encodeURIComponent(secret), `Bearer ${secret}`].join(' | ');

/**
 * Echoes whatever secrets it was sent (the Authorization header, the PTY token) back
 * in everything it says: REST bodies, output, messages outside the contract, close
 * reasons, refusal bodies.
 */
async function hostile(state: { ptyToken: string; issued: boolean }): Promise<StandIn> {
  // The PTY token is echoed once the server has issued it (a server cannot know it before).
  const secretsOf = (req: IncomingMessage) => `${echoes(req.headers.authorization?.replace(/^Bearer /, '') ?? '')}${state.issued ? ` | ${echoes(state.ptyToken)}` : ''}`;
  return startStandIn({
    http: (req, res) => {
      if (req.method === 'POST' && req.url === '/api/v1/pty') state.issued = true;
      if (req.method === 'POST' && req.url === '/api/v1/pty') return void res.writeHead(201, { 'content-type': 'application/json' }).end(json({ session_id: 'pty_1', token: state.ptyToken, echo: secretsOf(req) }));
      res.writeHead(404, { 'content-type': 'application/json' }).end(json({ error: secretsOf(req), code: 'NOT_FOUND' }));
    },
    refuse: (req) => (pathOf(req) === '/terminal' || !req.headers.authorization ? { status: 401, body: json({ error: secretsOf(req), code: secretsOf(req).slice(0, 60) }) } : undefined),
    connection: (socket: WebSocket, req) => {
      const said = secretsOf(req);
      // A close reason is at most 123 bytes: the secret itself, cut to fit.
      const reason = Buffer.from(req.headers.authorization ?? '').subarray(0, 100).toString();
      if (pathOf(req).startsWith('/api/v1/pty/')) {
        void sendEach(socket, [encodePtyFrame({ op: 'data', data: Buffer.from(said) }), Buffer.concat([Buffer.of(7), Buffer.from(said)]), said]).then(() => socket.close(1011, reason));
        return;
      }
      socket.on('message', () => void sendEach(socket, [json({ type: 'stdout', data: said }), json({ type: said, data: 1 }), json({ [said]: said })]).then(() => socket.close(4000, reason)));
    },
  });
}

function capture(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', color: false, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

describe('no secret of a channel in any report', () => {
  it(`${propertyRuns(200)} random API keys and PTY tokens, echoed everywhere: no form of either in stdout, stderr, JSON, JUnit or HTML`, async () => {
    const state = { ptyToken: '', issued: false };
    const server = await hostile(state);
    try {
      await fc.assert(
        fc.asyncProperty(tokens, tokens, fc.constantFrom('hopx' as const, 'tensorlake' as const), async (key, ptyToken, provider) => {
          state.ptyToken = ptyToken;
          state.issued = false;
          process.env.DRIFT_CHANNELS_TOKEN = key;
          const files = { json: join(dir, 'report.json'), junit: join(dir, 'report.xml'), html: join(dir, 'report.html') };
          const io = capture();
          const code = await main(
            ['drift', '--provider', provider, '--base-url', server.baseUrl, '--token-env', 'DRIFT_CHANNELS_TOKEN', '--allow-mutations', '--timeout-ms', '2000', '--json', files.json, '--junit', files.junit, '--html', files.html],
            io,
          );
          expect(code, io.stderr).toBe(1);
          const outputs = { stdout: io.stdout, stderr: io.stderr, json: await readFile(files.json, 'utf8'), junit: await readFile(files.junit, 'utf8'), html: await readFile(files.html, 'utf8') };
          const report = JSON.parse(outputs.json) as { checks: Array<{ operation: string }> };
          // The channels ran and their server's words reached the reports (so a leak would show).
          expect(report.checks.some((c) => c.operation === (provider === 'hopx' ? 'executeStream' : 'ptySession'))).toBe(true);
          expect(state.issued).toBe(provider === 'tensorlake');
          expect(outputs.json).toContain('[REDACTED]');
          for (const [name, text] of Object.entries(outputs)) {
            expect(containsSecret(text, key), `${name} holds the API key`).toBe(false);
            expect(containsSecret(text, ptyToken), `${name} holds the PTY token`).toBe(false);
          }
        }),
        // A key and token of quotes and backslashes once made the redacted JSON report unreadable.
        { numRuns: propertyRuns(200), examples: [['>aaaaaaaaaa&a"\\', 'aa"aaa""a"aa', 'hopx']] },
      );
    } finally {
      await server.close();
    }
  }, 300_000);
});
