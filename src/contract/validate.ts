// Checks a response against what the spec declares for (operation, status), with
// a real JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) over the spec's
// own schemas: no field-by-field checks written by hand.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { ProviderName } from '../errors.js';
import { createSseDecoder } from '../core/sse.js';
import { loadSpec, type OpenApiDocument } from '../specs.js';

export interface ObservedResponse {
  status: number;
  contentType: string | null;
  bodyText: string;
  /**
   * False when `bodyText` is only the start of the body: it went past the byte cap,
   * the connection broke, or the check stopped reading. A JSON prefix is not
   * validated; of an event stream, the events it holds whole are.
   */
  complete?: boolean;
}

/** How many events of one stream are validated, and how many findings one response may give. */
const MAX_EVENTS = 1_000;
const MAX_FINDINGS = 50;

const INT_LIMITS = { int32: 2 ** 31, int64: 2 ** 63 } as const;

function pointerEscape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function follow(doc: OpenApiDocument, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((node, raw) => (node as Record<string, unknown> | undefined)?.[raw.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

interface DeclaredResponse {
  /** JSON pointer (into the spec) of the response object. */
  pointer: string;
  /** Media types the response declares; empty for a response without content. */
  mediaTypes: string[];
  /** For text/event-stream: the declared event names (x-sse-events). */
  events: string[];
}

export function createAjv(doc: OpenApiDocument): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
  for (const [format, limit] of Object.entries(INT_LIMITS)) {
    ajv.addFormat(format, { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -limit && n < limit });
  }
  for (const format of ['float', 'double']) ajv.addFormat(format, { type: 'number', validate: () => true });
  ajv.addSchema(doc as object, 'spec');
  return ajv;
}

export class SpecValidator {
  readonly provider: ProviderName;
  private readonly doc: OpenApiDocument;
  private readonly ajv: Ajv2020;
  private readonly strictAjv: Ajv2020;
  private readonly compiled = new Map<Ajv2020, Map<string, ValidateFunction>>();
  private readonly operations = new Map<string, { pointer: string; responses: Record<string, unknown> }>();

  constructor(provider: ProviderName, doc: OpenApiDocument = loadSpec(provider)) {
    this.provider = provider;
    this.doc = doc;
    this.ajv = createAjv(doc);
    this.strictAjv = createAjv(closeObjects(doc) as OpenApiDocument);
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const operation = op as { operationId?: string; responses?: Record<string, unknown>; 'x-emulated'?: boolean };
        // What the emulators do not serve is declared for the record only: no scenario, no drift probe.
        if (!operation?.operationId || operation['x-emulated'] === false) continue;
        // A WebSocket upgrade (101) is no request/response exchange: the channel scenarios
        // check it (upgrade, refusals, messages) against the AsyncAPI document instead.
        if (operation.responses && '101' in operation.responses) continue;
        this.operations.set(operation.operationId, {
          pointer: `/paths/${pointerEscape(path)}/${method}`,
          responses: operation.responses ?? {},
        });
      }
    }
  }

  /** Every (operationId, status) pair the spec declares. */
  declaredPairs(): Array<{ operation: string; status: string }> {
    return [...this.operations].flatMap(([operation, { responses }]) => Object.keys(responses).map((status) => ({ operation, status })));
  }

  private declared(operation: string, status: number): DeclaredResponse | undefined {
    const op = this.operations.get(operation);
    if (!op) throw new Error(`${this.provider}: no operation ${operation} in the spec`);
    return this.declaredIn(op, status);
  }

  private declaredIn(op: { pointer: string; responses: Record<string, unknown> }, status: number): DeclaredResponse | undefined {
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in op.responses);
    if (!key) return undefined;
    let pointer = `${op.pointer}/responses/${key}`;
    let response = follow(this.doc, pointer) as { $ref?: string; content?: Record<string, unknown> };
    if (response.$ref) {
      pointer = response.$ref.slice(1);
      response = follow(this.doc, pointer) as typeof response;
    }
    const stream = response.content?.['text/event-stream'] as { 'x-sse-events'?: Record<string, unknown> } | undefined;
    return { pointer, mediaTypes: Object.keys(response.content ?? {}), events: Object.keys(stream?.['x-sse-events'] ?? {}) };
  }

  private validator(ajv: Ajv2020, pointer: string): ValidateFunction {
    let cache = this.compiled.get(ajv);
    if (!cache) this.compiled.set(ajv, (cache = new Map()));
    let validate = cache.get(pointer);
    if (!validate) {
      validate = ajv.compile({ $ref: `spec#${pointer}` });
      cache.set(pointer, validate);
    }
    return validate;
  }

  /** Everything about `observed` that breaks the spec; empty when it conforms. */
  /** How a JSON request body departs from the operation's declared request body schema. */
  checkRequestBody(operation: string, bodyText: string): Finding[] {
    const op = this.operations.get(operation);
    if (!op) throw new Error(`${this.provider}: no operation ${operation} in the spec`);
    return this.checkJson(`${op.pointer}/requestBody/content/application~1json/schema`, bodyText, 'request body').filter((f) => f.severity === 'breaking');
  }

  /** Everything about `observed` that departs from the spec; empty when it conforms. */
  check(operation: string, observed: ObservedResponse): Finding[] {
    return this.checkDeclared(this.declared(operation, observed.status), operation, observed);
  }

  /**
   * The answer to a WebSocket upgrade at `path` checked against what the spec declares
   * for (path, GET): a channel's refusal. Undefined when the spec declares no such
   * operation (the upgrade is the AsyncAPI document's alone).
   */
  checkUpgrade(path: string, observed: ObservedResponse): Finding[] | undefined {
    const pointer = `/paths/${pointerEscape(path)}/get`;
    const op = follow(this.doc, pointer) as { operationId?: string; responses?: Record<string, unknown> } | undefined;
    if (!op?.responses) return undefined;
    return this.checkDeclared(this.declaredIn({ pointer, responses: op.responses }, observed.status), op.operationId ?? `GET ${path}`, observed);
  }

  private checkDeclared(declared: DeclaredResponse | undefined, operation: string, observed: ObservedResponse): Finding[] {
    if (!declared) return [breaking('undeclared-status', `status ${observed.status} is not declared for ${operation}`)];
    if (declared.mediaTypes.length === 0) {
      return observed.bodyText === '' ? [] : [breaking('unexpected-body', `status ${observed.status} declares no body, got ${observed.bodyText.length} bytes`)];
    }
    const mediaType = observed.contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
    if (!declared.mediaTypes.includes(mediaType)) {
      return [breaking('content-type', `content type ${mediaType || '(none)'} is not declared (${declared.mediaTypes.join(', ')})`)];
    }
    const content = `${declared.pointer}/content/${pointerEscape(mediaType)}`;
    if (mediaType === 'text/event-stream') return this.checkEvents(content, declared.events, observed.bodyText, observed.complete !== false);
    if (mediaType !== 'application/json' || observed.complete === false) return [];
    const findings = this.checkJson(`${content}/schema`, observed.bodyText, 'body');
    if (findings.length <= MAX_FINDINGS) return findings;
    return [...findings.slice(0, MAX_FINDINGS), warning('more-findings', `${findings.length - MAX_FINDINGS} more findings are not listed`)];
  }

  private checkJson(schemaPointer: string, text: string, what: string): Finding[] {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return [breaking('invalid-json', `${what} is not valid JSON`)];
    }
    const validate = this.validator(this.ajv, schemaPointer);
    if (!validate(value)) return (validate.errors ?? []).map((e) => describeError(e, what));
    // Valid: now look for fields the spec does not name, a drift worth a warning.
    const strict = this.validator(this.strictAjv, schemaPointer);
    if (strict(value)) return [];
    return (strict.errors ?? [])
      .filter((e) => e.keyword === 'additionalProperties')
      .map((e) => warning('additional-property', `${what}${e.instancePath || ''} has a field the spec does not declare: ${String(e.params.additionalProperty)}`));
  }

  /** True when the operation declares an event stream for some status: its body is read as it comes. */
  streams(operation: string): boolean {
    const op = this.operations.get(operation);
    if (!op) throw new Error(`${this.provider}: no operation ${operation} in the spec`);
    return Object.keys(op.responses).some((status) => Number.isInteger(Number(status)) && this.declared(operation, Number(status))?.mediaTypes.includes('text/event-stream'));
  }

  private checkEvents(contentPointer: string, declaredEvents: string[], text: string, complete: boolean): Finding[] {
    const findings: Finding[] = [];
    let index = 0;
    let more = 0;
    const decoder = createSseDecoder();
    // Decoded piece by piece, event by event: never an array of every event of a long stream.
    outer: for (let at = 0; at < text.length; at += 65_536) {
      for (const event of decoder.push(text.slice(at, at + 65_536))) {
        if (index >= MAX_EVENTS) break outer;
        const what = `event ${index++} (${event.event})`;
        const found = declaredEvents.includes(event.event)
          ? this.checkJson(`${contentPointer}/x-sse-events/${pointerEscape(event.event)}`, event.data, what)
          : [breaking('undeclared-event', `${what} is not declared (${declaredEvents.join(', ')})`)];
        for (const finding of found) {
          if (findings.length < MAX_FINDINGS) findings.push(finding);
          else more++;
        }
      }
    }
    if (more > 0) findings.push(warning('more-findings', `${more} more findings on later events are not listed`));
    if (index === 0 && complete) findings.push(breaking('empty-stream', 'the event stream holds no event'));
    return findings;
  }
}

export type FindingKind =
  | 'undeclared-status'
  | 'unexpected-body'
  | 'content-type'
  | 'invalid-json'
  | 'schema'
  | 'missing-field'
  | 'wrong-type'
  | 'unknown-enum'
  | 'additional-property'
  | 'undeclared-event'
  | 'empty-stream'
  | 'more-findings'
  | ChannelFindingKind;

/**
 * What a WebSocket channel check finds: the upgrade refused, a message outside the
 * contract (its schema's complaint is a `schema`/`missing-field`/... finding), a message
 * out of order, a wrong ending, a channel silent or endless past the check's bound.
 */
export type ChannelFindingKind = 'upgrade-refused' | 'undeclared-message' | 'message-order' | 'wrong-ending' | 'channel-timeout' | 'channel-output';

export interface Finding {
  /** `breaking`: a client built on the spec may fail; `warning`: it keeps working (e.g. an extra field). */
  severity: 'breaking' | 'warning';
  kind: FindingKind;
  message: string;
}

export const breaking = (kind: FindingKind, message: string): Finding => ({ severity: 'breaking', kind, message });
export const warning = (kind: FindingKind, message: string): Finding => ({ severity: 'warning', kind, message });

export function describeError(e: ErrorObject, what: string): Finding {
  const at = `${what}${e.instancePath || ''}`;
  switch (e.keyword) {
    case 'required':
      return breaking('missing-field', `${at} must have required property '${String(e.params.missingProperty)}'`);
    case 'type':
      return breaking('wrong-type', `${at} must be ${String(e.params.type)}`);
    case 'enum':
      return breaking('unknown-enum', `${at} must be one of the declared values (${(e.params.allowedValues as unknown[]).join(', ')})`);
    default:
      return breaking('schema', `${at} ${e.message ?? 'is invalid'}`);
  }
}

/** The spec with every object schema closed (additionalProperties: false), to find undeclared fields. */
export function closeObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closeObjects);
  if (node === null || typeof node !== 'object') return node;
  const copy = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, closeObjects(value)])) as Record<string, unknown>;
  const type = copy.type;
  const isObject = type === 'object' || (Array.isArray(type) && type.includes('object'));
  if (isObject && copy.properties && copy.additionalProperties === undefined) copy.additionalProperties = false;
  return copy;
}
