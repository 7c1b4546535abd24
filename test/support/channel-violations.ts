// The WebSocket half of the recording proxy's spec check: every channel an official
// SDK opened, against our contract. The upgrade against the OpenAPI operation of its
// path (a declared status; a refusal's body against that status's schema); each message against the schema the
// operation's `x-messages` names for its side (text JSON for HopX, decoded binary
// frames for Tensorlake, `data` as base64 as the schemas describe it); the order and
// the ending the AsyncAPI channel's `x-session` states.
//
// Small on purpose: the contract engine's channel loader (src/contract/channel-spec.ts,
// once merged) reads the same documents and can replace the loading below.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import type { ProviderName } from '../../src/errors.js';
import { decodePtyFrame } from '../../src/providers/tensorlake/pty-frames.js';
import { loadSpec, type OpenApiDocument } from '../../src/specs.js';
import type { ChannelExchange } from './recording-proxy.js';

type Node = Record<string, any>;
const isNode = (value: unknown): value is Node => value !== null && typeof value === 'object' && !Array.isArray(value);
const escape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/** A copy where every object schema with properties allows no other field: what finds a field the spec does not declare. */
function closeObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closeObjects);
  if (!isNode(node)) return node;
  const copy: Node = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, closeObjects(value)]));
  if (copy.type === 'object' && copy.properties && copy.additionalProperties === undefined) copy.additionalProperties = false;
  return copy;
}

interface SessionRules {
  /** The client message that must come before anything else (its component schema's name). */
  first?: string;
  /** Server messages that end a session (component schema names). */
  finalMessages: string[];
  closes: { code?: number; reason?: RegExp }[];
}

interface ChannelOperation {
  id: string;
  template: RegExp;
  pointer: string;
  responses: Node;
  channel?: string;
}

interface Contract {
  operations: ChannelOperation[];
  sessions: Map<string, SessionRules>;
  /** Every message of every channel: its name and where its payload schema is in the OpenAPI document. */
  named: Map<string, { name: string; pointer: string }[]>;
  validate(pointer: string, value: unknown): { ok: true; undeclared: string[] } | { ok: false; errors: string[] };
  /** The node at a JSON pointer of the OpenAPI document. */
  resolve(pointer: string): unknown;
}

const contracts = new Map<ProviderName, Contract>();

function loadContract(provider: ProviderName): Contract {
  const cached = contracts.get(provider);
  if (cached) return cached;
  const doc: OpenApiDocument = loadSpec(provider);
  const asyncApi = parse(readFileSync(new URL(`../../specs/${provider}.asyncapi.yaml`, import.meta.url), 'utf8')) as Node;
  const ajv = (spec: unknown) => {
    const instance = new Ajv2020({ strict: false, allErrors: true, logger: false });
    instance.addSchema(spec as object, 'spec');
    return instance;
  };
  const loose = ajv(doc);
  const closed = ajv(closeObjects(doc));
  const compiled = new Map<string, [ValidateFunction, ValidateFunction]>();
  const validate: Contract['validate'] = (pointer, value) => {
    let pair = compiled.get(pointer);
    if (!pair) compiled.set(pointer, (pair = [loose.compile({ $ref: `spec#${pointer}` }), closed.compile({ $ref: `spec#${pointer}` })]));
    const [check, strict] = pair;
    if (!check(value)) return { ok: false, errors: (check.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword}`) };
    if (strict(value)) return { ok: true, undeclared: [] };
    return { ok: true, undeclared: (strict.errors ?? []).filter((e) => e.keyword === 'additionalProperties').map((e) => `${e.instancePath || '(root)'}.${String(e.params.additionalProperty)}`) };
  };

  const operations: ChannelOperation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    const get = (item as Node).get;
    if (!isNode(get) || !isNode(get.responses) || !('101' in get.responses)) continue;
    const template = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    operations.push({ id: get.operationId, template, pointer: `/paths/${escape(path)}/get`, responses: get.responses, channel: get['x-channel'] });
  }

  const local = (node: unknown): unknown => (isNode(node) && typeof node.$ref === 'string' && node.$ref.startsWith('#/') ? local(node.$ref.slice(2).split('/').reduce((n: any, k: string) => n?.[k], asyncApi)) : node);
  const schemaName = (message: unknown) => String((local(message) as Node).payload.$ref).split('/').pop()!;
  const sessions = new Map<string, SessionRules>();
  const named = new Map<string, { name: string; pointer: string }[]>();
  for (const [key, raw] of Object.entries(asyncApi.channels as Node)) {
    const channel = local(raw) as Node;
    const byKey = (name: string) => schemaName(channel.messages[name] ?? asyncApi.components.messages[name]);
    named.set(
      key,
      Object.values(channel.messages as Node).map((message) => {
        const name = schemaName(message);
        return { name, pointer: `/components/schemas/${name}` };
      }),
    );
    const session = (channel['x-session'] ?? {}) as Node;
    const ends = (session.ends ?? []) as Node[];
    sessions.set(key, {
      ...(typeof session.first === 'string' && { first: byKey(session.first) }),
      finalMessages: ends.filter((end) => typeof end.message === 'string').map((end) => byKey(end.message)),
      closes: ends
        .filter((end) => isNode(end.close))
        .map(({ close }) => ({
          ...(typeof close.code === 'number' && { code: close.code }),
          ...(typeof close.reasonPattern === 'string' ? { reason: new RegExp(close.reasonPattern) } : typeof close.reason === 'string' ? { reason: new RegExp(`^${close.reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) } : {}),
        })),
    });
  }
  const resolve = (pointer: string) => pointer.split('/').slice(1).reduce<unknown>((node, raw) => (node as Node | undefined)?.[raw.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  const contract = { operations, sessions, named, validate, resolve };
  contracts.set(provider, contract);
  return contract;
}

/** A refused upgrade's body against what the operation declares for its status (its content type, its JSON schema). */
function refusalViolations(contract: Contract, operation: ChannelOperation, channel: ChannelExchange, where: string): string[] {
  let pointer = `${operation.pointer}/responses/${channel.status}`;
  const response = operation.responses[String(channel.status)] as Node;
  if (typeof response.$ref === 'string') pointer = response.$ref.slice(1);
  const declared = (typeof response.$ref === 'string' ? contract.resolve(pointer) : response) as Node;
  const types = Object.keys(isNode(declared?.content) ? declared.content : {});
  if (types.length === 0) return channel.responseBody === '' ? [] : [`${where}: the refusal has a body, and the spec declares none`];
  if (!types.includes('application/json')) return [];
  let body: unknown;
  try {
    body = JSON.parse(channel.responseBody);
  } catch {
    return [`${where}: the refusal's body is not the JSON the spec declares`];
  }
  const found = contract.validate(`${pointer}/content/application~1json/schema`, body);
  if (!found.ok) return [`${where}: the refusal's body breaks the spec: ${found.errors.join('; ')}`];
  return found.undeclared.length > 0 ? [`${where}: the refusal's body has fields the spec does not declare: ${found.undeclared.join(', ')}`] : [];
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
    const operation = contract.operations.find((op) => op.template.test(channel.path));
    if (!operation) return [`${where}: no WebSocket operation of the spec has this path`];
    if (!(String(channel.status) in operation.responses)) return [`${where}: status ${channel.status} is not declared for ${operation.id}`];
    if (channel.status !== 101) return refusalViolations(contract, operation, channel, where);
    const rules = operation.channel ? contract.sessions.get(operation.channel) : undefined;
    if (!rules) return [`${where}: ${operation.id} names no AsyncAPI channel (x-channel)`];
    const problems: string[] = [];
    const messages = contract.named.get(operation.channel!)!;
    const names: { from: 'client' | 'server'; name: string | undefined }[] = [];
    channel.messages.forEach((message, index) => {
      const what = `${where}: ${message.from} message ${index}`;
      const decoded = decode(provider, message.binary, message.data);
      if ('problem' in decoded) {
        problems.push(`${what}: ${decoded.problem}`);
        names.push({ from: message.from, name: undefined });
        return;
      }
      const side = contract.validate(`${operation.pointer}/x-messages/${message.from}`, decoded.value);
      if (!side.ok) problems.push(`${what} is none of the ${message.from}'s messages: ${side.errors.join('; ')} (${JSON.stringify(decoded.value).slice(0, 120)})`);
      else if (side.undeclared.length > 0) problems.push(`${what} has fields the spec does not declare: ${side.undeclared.join(', ')}`);
      names.push({ from: message.from, name: messages.find((m) => contract.validate(m.pointer, decoded.value).ok)?.name });
    });

    if (rules.first) {
      const firstClient = names.findIndex((m) => m.from === 'client');
      const firstServer = names.findIndex((m) => m.from === 'server');
      if (firstClient === -1) problems.push(`${where}: the client never sent ${rules.first}, which must come first`);
      else if (names[firstClient]!.name !== rules.first) problems.push(`${where}: the client's first message is ${names[firstClient]!.name ?? 'unknown'}, not ${rules.first}`);
      if (firstServer !== -1 && (firstClient === -1 || firstServer < firstClient)) problems.push(`${where}: the server sent a message before the client's ${rules.first}`);
    }

    const server = names.filter((m) => m.from === 'server');
    const finalAt = server.findIndex((m) => m.name !== undefined && rules.finalMessages.includes(m.name));
    if (finalAt !== -1 && finalAt < server.length - 1) problems.push(`${where}: the server sent ${server.length - 1 - finalAt} message(s) after the final ${server[finalAt]!.name}`);
    const closedAsDeclared =
      channel.close?.by === 'server' && rules.closes.some((end) => (end.code === undefined || end.code === channel.close!.code) && (end.reason === undefined || end.reason.test(channel.close!.reason)));
    if (finalAt === -1 && !closedAsDeclared) {
      const close = channel.close ? `a close by the ${channel.close.by} (${channel.close.code} ${JSON.stringify(channel.close.reason)})` : 'no close';
      problems.push(`${where}: the session ended with ${close} and no final message: none of the endings x-session declares`);
    }
    return problems;
  });
}
