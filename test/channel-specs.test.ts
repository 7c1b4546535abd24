// The channel scenarios against the channel documents: every channel a scenario
// names can be read (address, messages each way, endings), every client message a
// scenario sends is one the channel declares, the first is the one the channel
// wants first, and every ending a scenario expects is one the channel allows.
// Run on the AsyncAPI stand-ins of test/fixtures/channels and, once they are there
// (#24, written in parallel), on specs/<provider>.asyncapi.yaml themselves.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChannelValidator, readChannel } from '../src/contract/channel-spec.js';
import { scenariosFor } from '../src/contract/scenarios.js';
import type { ProviderName } from '../src/errors.js';
import { asyncApiPath, loadAsyncApi, loadSpec, type AsyncApiDocument, type OpenApiDocument } from '../src/specs.js';
import { fixtureAsyncApi, withFixtureMessages } from './support/channel-standins.js';

const providers: ProviderName[] = ['hopx', 'tensorlake'];

type Source = [name: string, provider: ProviderName, load: () => { asyncApi: AsyncApiDocument; openApi: OpenApiDocument }];
const sources: Source[] = providers.flatMap((provider): Source[] => [
  [`${provider} (test fixture)`, provider, () => ({ asyncApi: fixtureAsyncApi(provider), openApi: withFixtureMessages(provider, loadSpec(provider)) })],
  ...(existsSync(asyncApiPath(provider)) ? [[`${provider} (specs/${provider}.asyncapi.yaml)`, provider, () => ({ asyncApi: loadAsyncApi(provider), openApi: loadSpec(provider) })] satisfies Source] : []),
]);

describe.each(sources)('the channel scenarios of %s', (_name, provider, load) => {
  const { asyncApi, openApi } = load();
  const scenarios = scenariosFor([provider]).filter((s) => s.channel);

  it('name channels the document has, and send only what each declares, the first message first', () => {
    expect(scenarios.length).toBeGreaterThan(0);
    for (const scenario of scenarios) {
      const validator = new ChannelValidator(readChannel(provider, scenario.channel!.key, asyncApi, openApi), openApi);
      const sends = scenario.channel!.steps.flatMap((step) => ('send' in step ? [step.send] : []));
      const names = sends.map((message, i) => {
        const classified = validator.classify('client', message, `client message ${i}`);
        expect(classified.findings, `${scenario.operation} ${scenario.name ?? ''}`).toEqual([]);
        return classified.name!;
      });
      if (names.length > 0 && validator.contract.first) expect(validator.is(names[0]!, validator.contract.first)).toBe(true);
      const ending = scenario.channel!.ending;
      if (ending?.message) expect(validator.contract.server.some((m) => validator.is(m.name, ending.message!))).toBe(true);
      if (ending?.close) {
        const allowed = validator.contract.ends.some((end) => end.close && (end.close.code ?? ending.close!.code) === ending.close!.code && (!end.close.reason || end.close.reason.test(ending.close!.reason ?? '')));
        expect(allowed, `${scenario.operation}: close ${ending.close.code} ${ending.close.reason}`).toBe(true);
      }
    }
  });

  it('reads each channel with messages both ways and at least one ending', () => {
    for (const key of new Set(scenarios.map((s) => s.channel!.key))) {
      const contract = readChannel(provider, key, asyncApi, openApi);
      expect(contract.address).toMatch(/^\//);
      expect(contract.client.length).toBeGreaterThan(0);
      expect(contract.server.length).toBeGreaterThan(0);
      expect(contract.ends.length).toBeGreaterThan(0);
    }
  });
});

describe('readChannel says what is wrong with a document', () => {
  const openApi = withFixtureMessages('hopx', loadSpec('hopx'));
  const base = fixtureAsyncApi('hopx');
  const edit = (change: (doc: { channels: Record<string, Record<string, unknown>> }) => void) => {
    const copy = structuredClone(base) as unknown as { channels: Record<string, Record<string, unknown>> };
    change(copy);
    return copy as unknown as AsyncApiDocument;
  };

  it('a missing channel, an ending that names no server message, a payload that is not a ref into the OpenAPI spec', () => {
    expect(() => readChannel('hopx', 'nope', base, openApi)).toThrow('hopx AsyncAPI channels.nope: no such channel');
    expect(() => readChannel('hopx', 'terminal', edit((d) => (d.channels.terminal!['x-session'] = { ends: [{ message: 'TerminalInputMessage' }] })), openApi)).toThrow(
      'an ending names a message the server does not send (TerminalInputMessage)',
    );
    expect(() => readChannel('hopx', 'terminal', edit((d) => ((d.channels.terminal!.messages as Record<string, unknown>).output = { payload: { type: 'object' } })), openApi)).toThrow(
      'channels.terminal.messages.output: the payload must $ref a schema of the OpenAPI spec',
    );
    expect(() => readChannel('hopx', 'terminal', edit((d) => (d.channels.terminal!['x-session'] = {})), openApi)).toThrow('x-session.ends says nothing of how a session ends');
  });

  it('reads a literal close reason with a placeholder as a pattern', () => {
    const contract = readChannel('tensorlake', 'ptySession', fixtureAsyncApi('tensorlake'), withFixtureMessages('tensorlake', loadSpec('tensorlake')));
    const exit = contract.ends.find((end) => end.close?.code === 1000)!;
    expect(exit.close!.reason!.test('exit:0')).toBe(true);
    expect(exit.close!.reason!.test('exit:137')).toBe(true);
    expect(exit.close!.reason!.test('session terminated')).toBe(false);
    // The client perspective of the document (its `send` is the client's) is read the right way round.
    expect(contract.client.map((m) => m.name)).toEqual(['ready', 'input', 'resize']);
    expect(contract.server.map((m) => m.name)).toEqual(['output', 'exit']);
  });
});
