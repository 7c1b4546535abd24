// The message side of the WebSocket routes: specs/<provider>.asyncapi.yaml. Each is a
// valid AsyncAPI 3.0 document (@asyncapi/parser, which also resolves every $ref into
// the OpenAPI spec beside it), every message payload is a schema the OpenAPI spec
// defines (one description for the types, the client and the contract check), and
// each channel's session rules and upgrade operation name things that exist.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromFile, Parser } from '@asyncapi/parser';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../src/specs.js';

const specsDir = join(import.meta.dirname, '..', 'specs');
const ERROR = 0;

const DOCUMENTS = [
  {
    provider: 'hopx',
    channels: { executeStream: '/execute/stream', terminal: '/terminal' },
    schemas: [
      'StreamExecuteMessage', 'StreamStdoutMessage', 'StreamStderrMessage', 'StreamResultMessage', 'StreamErrorMessage',
      'StreamCompleteMessage', 'StreamServerMessage', 'TerminalInputMessage', 'TerminalResizeMessage', 'TerminalClientMessage',
      'TerminalOutputMessage', 'TerminalExitMessage', 'TerminalServerMessage',
    ],
  },
  {
    provider: 'tensorlake',
    channels: { ptySession: '/api/v1/pty/{session_id}/ws' },
    schemas: [
      'PtyDataFrame', 'PtyResizeFrame', 'PtyReadyFrame', 'PtyExitFrame', 'PtyClientFrame', 'PtyServerFrame',
      'CreatePtySessionRequest', 'CreatePtySessionResponse', 'PtySessionInfo', 'ListPtySessionsResponse', 'ResizePtyRequest',
    ],
  },
] as const;

describe.each(DOCUMENTS)('specs/$provider.asyncapi.yaml', ({ provider, channels, schemas }) => {
  const file = join(specsDir, `${provider}.asyncapi.yaml`);
  const raw = parse(readFileSync(file, 'utf8')) as any;
  const openapi = loadSpec(provider) as any;

  it('parses as AsyncAPI 3.0 with no error, every $ref resolved', async () => {
    const { document, diagnostics } = await fromFile(new Parser(), file).parse();
    expect(diagnostics.filter((d) => d.severity === ERROR).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`)).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
    const messages = document!.allMessages().all();
    expect(messages.length).toBe(Object.keys(raw.components.messages).length);
    // Resolved: each payload is the schema itself (a type or a oneOf), no $ref left.
    for (const message of messages) {
      const payload = message.payload()!.json() as Record<string, unknown>;
      expect(payload.$ref, message.id()).toBeUndefined();
      expect(payload.type ?? payload.oneOf, message.id()).toBeDefined();
    }
  });

  it('takes every message payload from a schema the OpenAPI spec defines', () => {
    const missing: string[] = [];
    for (const [name, message] of Object.entries<any>(raw.components.messages)) {
      const ref: string = message.payload?.$ref ?? '';
      const [target, pointer] = ref.split('#');
      expect(target, name).toBe(`./${provider}.yaml`);
      const found = pointer!.split('/').slice(1).reduce((node: any, key) => node?.[key], openapi);
      if (!found) missing.push(`${name} -> ${ref}`);
      expect(pointer, name).toBe(`/components/schemas/${name}`);
    }
    expect(missing).toEqual([]);
    for (const name of schemas) expect(openapi.components.schemas[name], name).toBeDefined();
  });

  it('gives each channel its address, its upgrade operation and session rules that name its messages', () => {
    expect(Object.keys(raw.channels).sort()).toEqual(Object.keys(channels).sort());
    for (const [key, address] of Object.entries<string>(channels)) {
      const channel = raw.channels[key];
      expect(channel.address).toBe(address);
      expect([channel['x-source']].flat().length).toBeGreaterThan(0);
      // The HTTP side: an operation answering 101 that names this channel back.
      const upgrade = openapi.paths[address]?.get;
      expect(upgrade?.operationId).toBe(channel['x-http-operation']);
      expect(upgrade['x-channel']).toBe(key);
      expect(Object.keys(upgrade.responses)).toContain('101');
      // Who sends what: the client's messages are the ones the server receives.
      const sentBy = (action: string) =>
        Object.values<any>(raw.operations)
          .filter((op) => op.action === action && op.channel.$ref === `#/channels/${key}`)
          .flatMap((op) => op.messages.map((m: { $ref: string }) => m.$ref.split('/').pop()));
      const clientSends = sentBy('receive');
      const serverSends = sentBy('send');
      expect(clientSends.length).toBeGreaterThan(0);
      expect(serverSends.length).toBeGreaterThan(0);
      const session = channel['x-session'];
      if (session.first !== undefined) expect(clientSends).toContain(session.first);
      expect(session.ends.length).toBeGreaterThan(0);
      for (const end of session.ends) {
        if (end.message !== undefined) expect(serverSends).toContain(end.message);
        else expect(end.close.code).toEqual(expect.any(Number));
      }
    }
  });
});

describe('the package', () => {
  it('ships the AsyncAPI documents beside the specs their payloads refer to', () => {
    const manifest = JSON.parse(readFileSync(join(specsDir, '..', 'package.json'), 'utf8')) as { files: string[] };
    expect(manifest.files).toContain('specs');
  });
});
