// The WebSocket half of the recording proxy's spec check: every channel an official
// SDK opened, against our contract. The channel and its messages are read as the
// contract engine reads them (readChannel, ChannelValidator); the upgrade's status and
// a refusal's body are checked as the engine checks them (SpecValidator.checkUpgrade),
// and the ending as it judges one (endsAsDeclared). What stays here is what only a
// recorded exchange needs: finding the channel by the path the SDK opened, decoding
// its frames (text JSON for HopX, binary frames for Tensorlake with `data` as base64
// as the schemas describe it), undeclared fields as specViolations counts them, and
// the order over the whole exchange.
import type { Ajv2020, ValidateFunction } from 'ajv/dist/2020.js';
import { endsAsDeclared } from '../../src/contract/channel-check.js';
import { ChannelValidator, readChannel } from '../../src/contract/channel-spec.js';
import { closeObjects, createAjv, SpecValidator } from '../../src/contract/validate.js';
import type { ProviderName } from '../../src/errors.js';
import { decodePtyFrame } from '../../src/providers/tensorlake/pty-frames.js';
import { loadAsyncApi, loadSpec, type OpenApiDocument } from '../../src/specs.js';
import type { ChannelExchange } from './recording-proxy.js';

interface Channel {
  template: RegExp;
  validator: ChannelValidator;
}

interface Contract {
  spec: SpecValidator;
  channels: Channel[];
  /** Fields the spec does not declare, at each instance path, of a value valid against the schema at `pointer`. */
  undeclared(pointer: string, value: unknown): string[];
}

const contracts = new Map<ProviderName, Contract>();

function loadContract(provider: ProviderName): Contract {
  const cached = contracts.get(provider);
  if (cached) return cached;
  const openApi = loadSpec(provider);
  const asyncApi = loadAsyncApi(provider);
  const channels = Object.keys(asyncApi.channels ?? {}).map((key) => {
    const validator = new ChannelValidator(readChannel(provider, key, asyncApi, openApi), openApi);
    const template = new RegExp(`^${validator.contract.address.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    return { template, validator };
  });
  const closed: Ajv2020 = createAjv(closeObjects(openApi) as OpenApiDocument);
  const compiled = new Map<string, ValidateFunction>();
  const undeclared = (pointer: string, value: unknown) => {
    let strict = compiled.get(pointer);
    if (!strict) compiled.set(pointer, (strict = closed.compile({ $ref: `spec#${pointer}` })));
    if (strict(value)) return [];
    return (strict.errors ?? []).filter((e) => e.keyword === 'additionalProperties').map((e) => `${e.instancePath || '(root)'}.${String(e.params.additionalProperty)}`);
  };
  const contract = { spec: new SpecValidator(provider, openApi), channels, undeclared };
  contracts.set(provider, contract);
  return contract;
}

/** A message as the schemas describe it: a JSON text frame (HopX), a decoded binary frame with base64 `data` (Tensorlake). */
function decode(provider: ProviderName, binary: boolean, data: Buffer): { value: unknown } | { problem: string } {
  if (provider === 'tensorlake') {
    if (!binary) return { problem: `a text frame (${data.length} bytes); the channel carries binary frames` };
    const frame = decodePtyFrame(data);
    if ('problem' in frame) return frame;
    return { value: frame.op === 'data' ? { op: 'data', data: Buffer.from(frame.data).toString('base64') } : frame };
  }
  if (binary) return { problem: `a binary frame (${data.length} bytes); the channel carries JSON text` };
  try {
    return { value: JSON.parse(data.toString('utf8')) as unknown };
  } catch {
    return { problem: `not JSON: ${JSON.stringify(data.toString('utf8').slice(0, 80))}` };
  }
}

/**
 * Every way the recorded channels break the contract, one line each; empty when all
 * conform. Additional fields count too, as specViolations counts them for HTTP.
 */
export function channelViolations(channels: readonly ChannelExchange[], provider: ProviderName): string[] {
  const contract = loadContract(provider);
  return channels.flatMap((channel) => {
    const where = `GET ${channel.path} -> ${channel.status}`;
    const found = contract.channels.find((c) => c.template.test(channel.path));
    if (!found) return [`${where}: no WebSocket channel of the contract has this path`];
    const { validator } = found;
    const { address, first } = validator.contract;
    const upgrade = contract.spec.checkUpgrade(address, { status: channel.status, contentType: channel.contentType, bodyText: channel.responseBody });
    if (!upgrade) return [`${where}: no WebSocket operation of the spec has the path ${address}`];
    if (upgrade.length > 0 || channel.status !== 101) return upgrade.map((f) => `${where}: ${channel.status === 101 ? 'upgrade' : 'refusal'} ${f.severity} ${f.kind}: ${f.message}`);

    const problems: string[] = [];
    const names: { from: 'client' | 'server'; name: string | undefined }[] = [];
    channel.messages.forEach((message, index) => {
      const what = `${where}: ${message.from} message ${index}`;
      const decoded = decode(provider, message.binary, message.data);
      if ('problem' in decoded) {
        problems.push(`${what}: ${decoded.problem}`);
        names.push({ from: message.from, name: undefined });
        return;
      }
      const classified = validator.classify(message.from, decoded.value, what);
      names.push({ from: message.from, name: classified.name });
      if (classified.name === undefined) {
        problems.push(`${what} is none of the ${message.from}'s messages: ${classified.findings.map((f) => f.message).join('; ')} (${JSON.stringify(decoded.value).slice(0, 120)})`);
        return;
      }
      const pointer = validator.contract[message.from].find((m) => m.name === classified.name)!.pointer;
      const undeclared = contract.undeclared(pointer, decoded.value);
      if (undeclared.length > 0) problems.push(`${what} has fields the spec does not declare: ${undeclared.join(', ')}`);
    });

    if (first) {
      const firstClient = names.findIndex((m) => m.from === 'client');
      const firstServer = names.findIndex((m) => m.from === 'server');
      if (firstClient === -1) problems.push(`${where}: the client never sent ${first}, which must come first`);
      else if (names[firstClient]!.name === undefined || !validator.is(names[firstClient]!.name!, first)) problems.push(`${where}: the client's first message is ${names[firstClient]!.name ?? 'unknown'}, not ${first}`);
      if (firstServer !== -1 && (firstClient === -1 || firstServer < firstClient)) problems.push(`${where}: the server sent a message before the client's ${first}`);
    }

    const server = names.filter((m) => m.from === 'server');
    const endMessages = validator.contract.ends.flatMap((end) => (end.message === undefined ? [] : [end.message]));
    const finalAt = server.findIndex((m) => m.name !== undefined && endMessages.some((end) => validator.is(m.name!, end)));
    const final = finalAt === -1 ? undefined : server[finalAt]!.name;
    if (finalAt !== -1 && finalAt < server.length - 1) problems.push(`${where}: the server sent ${server.length - 1 - finalAt} message(s) after the final ${final}`);
    // A close frame ends a session as declared only when the server sends it; the final message, whoever closes after it.
    const serverClose = channel.close?.by === 'server' ? channel.close : undefined;
    if (!endsAsDeclared(validator, final, serverClose)) {
      const close = channel.close ? `a close by the ${channel.close.by} (${channel.close.code} ${JSON.stringify(channel.close.reason)})` : 'no close';
      problems.push(`${where}: the session ended with ${close} ${final ? `after the final ${final}` : 'and no final message'}: none of the endings x-session declares`);
    }
    return problems;
  });
}
