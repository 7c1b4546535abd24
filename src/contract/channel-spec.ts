// A WebSocket channel's contract as the provider's AsyncAPI document states it:
// its address, the messages each side sends, the message the client sends first and
// how a session ends. Message payloads `$ref` the OpenAPI spec's component schemas;
// those refs are resolved here (into JSON pointers of the OpenAPI document), so that
// ajv checks messages with the very schemas the client's types are generated from.
import type { Ajv2020, ValidateFunction } from 'ajv/dist/2020.js';
import type { ProviderName } from '../errors.js';
import type { AsyncApiDocument, OpenApiDocument } from '../specs.js';
import { breaking, createAjv, describeError, type Finding } from './validate.js';

export interface ChannelMessage {
  /** The message's key in the channel (also matched: its `name`, and its schema's name). */
  name: string;
  /** Other names it answers to (its `name`, its component schema's name). */
  aliases: string[];
  /** JSON pointer of its payload schema in the OpenAPI document. */
  pointer: string;
  /** The field and value that tell this message apart (its schema's `type` or `op` constant), when it has one. */
  tag?: { field: string; value: unknown };
}

/** One way a session may end: a final server message, and/or a close frame (code, reason). */
export interface ChannelEnd {
  message?: string;
  close?: { code?: number; reason?: RegExp };
}

export interface ChannelContract {
  provider: ProviderName;
  key: string;
  /** The path, with `{name}` placeholders (Tensorlake: `/api/v1/pty/{session_id}/ws`). */
  address: string;
  client: ChannelMessage[];
  server: ChannelMessage[];
  /** The client message that must come first. */
  first?: string;
  ends: ChannelEnd[];
}

type Node = Record<string, unknown>;

function follow(doc: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((node, raw) => (node as Node | undefined)?.[decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

const isNode = (value: unknown): value is Node => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Follows local refs (`#/...`) inside the AsyncAPI document until a node without one. */
function local(doc: AsyncApiDocument, node: unknown, seen = 0): unknown {
  if (!isNode(node) || typeof node.$ref !== 'string' || !node.$ref.startsWith('#') || seen > 16) return node;
  return local(doc, follow(doc, node.$ref.slice(1)), seen + 1);
}

/** Where a payload's schema is in the OpenAPI document: a ref into it (`./hopx.yaml#/components/schemas/X`). */
function payloadPointer(doc: AsyncApiDocument, message: Node, where: string): string {
  let payload = local(doc, message.payload);
  // AsyncAPI 3's multi-format schema object: { schemaFormat, schema }.
  if (isNode(payload) && isNode(payload.schema) && 'schemaFormat' in payload) payload = local(doc, payload.schema);
  const ref = isNode(payload) ? payload.$ref : undefined;
  if (typeof ref !== 'string' || ref.startsWith('#') || !ref.includes('#')) {
    throw new Error(`${where}: the payload must $ref a schema of the OpenAPI spec (e.g. ./spec.yaml#/components/schemas/Name)`);
  }
  return ref.slice(ref.indexOf('#') + 1);
}

function tagOf(openApi: OpenApiDocument, pointer: string): ChannelMessage['tag'] {
  let schema = follow(openApi, pointer);
  for (let i = 0; i < 8 && isNode(schema) && typeof schema.$ref === 'string'; i++) schema = follow(openApi, schema.$ref.slice(1));
  const properties = isNode(schema) && isNode(schema.properties) ? schema.properties : {};
  for (const field of ['type', 'op']) {
    const property = properties[field];
    if (!isNode(property)) continue;
    if ('const' in property) return { field, value: property.const };
    if (Array.isArray(property.enum) && property.enum.length === 1) return { field, value: property.enum[0] };
  }
  return undefined;
}

function readEnd(raw: unknown, where: string): ChannelEnd {
  if (typeof raw === 'string') return { message: raw };
  if (!isNode(raw)) throw new Error(`${where}: an ending must be an object`);
  const end: ChannelEnd = {};
  const message = raw.message ?? raw.messageType ?? raw.type;
  if (typeof message === 'string') end.message = message;
  const close = isNode(raw.close) ? raw.close : typeof raw.close === 'number' ? { code: raw.close } : raw;
  const code = close.code ?? close.closeCode;
  const reason = close.reasonPattern ?? close.reason ?? close.closeReason;
  if (typeof code === 'number' || typeof reason === 'string') {
    end.close = {
      ...(typeof code === 'number' && { code }),
      // A literal reason may name its variable part as <name> ("exit:<code>"); reasonPattern is a regex.
      ...(typeof reason === 'string' && {
        reason: 'reasonPattern' in close ? new RegExp(reason) : new RegExp(`^${reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/<[^>]+>/g, '.+')}$`),
      }),
    };
  }
  if (!end.message && !end.close) throw new Error(`${where}: an ending names neither a message nor a close code or reason`);
  return end;
}

/** Reads channel `key` of a provider's AsyncAPI document, its payloads resolved into `openApi`. */
export function readChannel(provider: ProviderName, key: string, asyncApi: AsyncApiDocument, openApi: OpenApiDocument): ChannelContract {
  const where = `${provider} AsyncAPI channels.${key}`;
  const channel = local(asyncApi, asyncApi.channels?.[key]);
  if (!isNode(channel)) throw new Error(`${where}: no such channel`);
  if (typeof channel.address !== 'string') throw new Error(`${where}: no address`);
  const messages = new Map<string, ChannelMessage>();
  for (const [name, raw] of Object.entries(isNode(channel.messages) ? channel.messages : {})) {
    const message = local(asyncApi, raw);
    if (!isNode(message)) throw new Error(`${where}.messages.${name}: not a message`);
    const pointer = payloadPointer(asyncApi, message, `${where}.messages.${name}`);
    const refName = isNode(raw) && typeof raw.$ref === 'string' ? raw.$ref.split('/').pop()! : undefined;
    const aliases = [message.name, refName, pointer.split('/').pop()].filter((a): a is string => typeof a === 'string' && a !== name);
    const tag = tagOf(openApi, pointer);
    messages.set(name, { name, aliases, pointer, ...(tag && { tag }) });
  }
  const find = (name: string) => [...messages.values()].find((m) => m.name === name || m.aliases.includes(name));
  const session = isNode(channel['x-session']) ? channel['x-session'] : {};
  const first = typeof session.first === 'string' ? session.first : undefined;
  const ends = (Array.isArray(session.ends) ? session.ends : []).map((end, i) => readEnd(end, `${where}.x-session.ends[${i}]`));
  if (ends.length === 0) throw new Error(`${where}: x-session.ends says nothing of how a session ends`);

  // Which side sends what, from the operations on this channel; the side that sends `first` is the client.
  const sent = { send: new Set<string>(), receive: new Set<string>() };
  for (const raw of Object.values(asyncApi.operations ?? {})) {
    const operation = local(asyncApi, raw);
    if (!isNode(operation) || (operation.action !== 'send' && operation.action !== 'receive')) continue;
    const target = isNode(operation.channel) ? operation.channel.$ref : undefined;
    if (target !== `#/channels/${key}`) continue;
    const listed = Array.isArray(operation.messages) ? operation.messages : [];
    const names = listed.map((m) => (isNode(m) && typeof m.$ref === 'string' ? m.$ref.split('/').pop()! : '')).filter(Boolean);
    for (const name of names.length > 0 ? names : [...messages.keys()]) sent[operation.action].add(find(name)?.name ?? name);
  }
  const firstName = first === undefined ? undefined : find(first)?.name;
  if (first !== undefined && firstName === undefined) throw new Error(`${where}: x-session.first names no message of the channel (${first})`);
  const appIsClient = firstName !== undefined && sent.send.has(firstName);
  const clientNames = appIsClient ? sent.send : sent.receive;
  const serverNames = appIsClient ? sent.receive : sent.send;
  if (serverNames.size === 0) throw new Error(`${where}: no operation says which messages the server sends`);
  const pick = (names: Set<string>) => [...names].map((name) => find(name) ?? missing(name));
  const missing = (name: string): never => {
    throw new Error(`${where}: an operation names a message the channel does not have (${name})`);
  };
  for (const end of ends) if (end.message !== undefined && !pick(serverNames).some((m) => m.name === end.message || m.aliases.includes(end.message!))) {
    throw new Error(`${where}: an ending names a message the server does not send (${end.message})`);
  }
  return { provider, key, address: channel.address, client: pick(clientNames), server: pick(serverNames), ...(firstName !== undefined && { first: firstName }), ends };
}

/** What a message turned out to be: one of the channel's messages by name, or the findings that say why it is none. */
export type Classified = { name: string; findings: [] } | { name: undefined; findings: Finding[] };

/** Validates a channel's messages against their payload schemas (the OpenAPI document's, with its formats). */
export class ChannelValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(readonly contract: ChannelContract, openApi: OpenApiDocument) {
    this.ajv = createAjv(openApi);
  }

  private validator(pointer: string): ValidateFunction {
    let validate = this.compiled.get(pointer);
    if (!validate) this.compiled.set(pointer, (validate = this.ajv.compile({ $ref: `spec#${pointer}` })));
    return validate;
  }

  /** Which of `side`'s declared messages `value` is; `what` names it in findings ("server message 3"). */
  classify(side: 'client' | 'server', value: unknown, what: string): Classified {
    const candidates = this.contract[side];
    for (const message of candidates) if (this.validator(message.pointer)(value)) return { name: message.name, findings: [] };
    // None fits: the schema's complaint is that of the message its tag says it means to be.
    const meant = isNode(value) ? candidates.find((m) => m.tag && value[m.tag.field] === m.tag.value) : undefined;
    if (meant) {
      const validate = this.validator(meant.pointer);
      validate(value);
      return { name: undefined, findings: (validate.errors ?? []).slice(0, 10).map((e) => describeError(e, `${what} (${meant.name})`)) };
    }
    const tagField = candidates.find((m) => m.tag)?.tag?.field;
    const tag = tagField && isNode(value) ? ` with ${tagField} ${JSON.stringify(value[tagField])?.slice(0, 40)}` : '';
    return { name: undefined, findings: [breaking('undeclared-message', `${what}${tag} is none of the declared messages (${candidates.map((m) => m.name).join(', ')})`)] };
  }

  /** Whether `value` is the declared message `name` (or one it is an alias of). */
  matches(name: string, value: unknown): boolean {
    const message = [...this.contract.server, ...this.contract.client].find((m) => m.name === name || m.aliases.includes(name));
    return message !== undefined && this.validator(message.pointer)(value);
  }

  /** Whether `name` is (an alias of) the declared message `declared`. */
  is(name: string, declared: string): boolean {
    const all = [...this.contract.client, ...this.contract.server];
    const message = all.find((m) => m.name === name);
    return name === declared || (message?.aliases.includes(declared) ?? false);
  }
}
