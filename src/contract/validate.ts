// Checks a response against what the spec declares for (operation, status), with
// a real JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) over the spec's
// own schemas: no field-by-field checks written by hand.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { ProviderName } from '../errors.js';
import { parseSseText } from '../core/sse.js';
import { loadSpec, type OpenApiDocument } from '../specs.js';

export interface ObservedResponse {
  status: number;
  contentType: string | null;
  bodyText: string;
}

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

function createAjv(doc: OpenApiDocument): Ajv2020 {
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
        const operation = op as { operationId?: string; responses?: Record<string, unknown> };
        if (!operation?.operationId) continue;
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
    const declared = this.declared(operation, observed.status);
    if (!declared) return [breaking('undeclared-status', `status ${observed.status} is not declared for ${operation}`)];
    if (declared.mediaTypes.length === 0) {
      return observed.bodyText === '' ? [] : [breaking('unexpected-body', `status ${observed.status} declares no body, got ${observed.bodyText.length} bytes`)];
    }
    const mediaType = observed.contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
    if (!declared.mediaTypes.includes(mediaType)) {
      return [breaking('content-type', `content type ${mediaType || '(none)'} is not declared (${declared.mediaTypes.join(', ')})`)];
    }
    const content = `${declared.pointer}/content/${pointerEscape(mediaType)}`;
    if (mediaType === 'text/event-stream') return this.checkEvents(content, declared.events, observed.bodyText);
    if (mediaType !== 'application/json') return [];
    return this.checkJson(`${content}/schema`, observed.bodyText, 'body');
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

  private checkEvents(contentPointer: string, declaredEvents: string[], text: string): Finding[] {
    const findings: Finding[] = [];
    let index = 0;
    for (const event of parseSseText(text)) {
      const what = `event ${index++} (${event.event})`;
      if (!declaredEvents.includes(event.event)) {
        findings.push(breaking('undeclared-event', `${what} is not declared (${declaredEvents.join(', ')})`));
        continue;
      }
      findings.push(...this.checkJson(`${contentPointer}/x-sse-events/${pointerEscape(event.event)}`, event.data, what));
    }
    if (index === 0) findings.push(breaking('empty-stream', 'the event stream holds no event'));
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
  | 'empty-stream';

export interface Finding {
  /** `breaking`: a client built on the spec may fail; `warning`: it keeps working (e.g. an extra field). */
  severity: 'breaking' | 'warning';
  kind: FindingKind;
  message: string;
}

const breaking = (kind: FindingKind, message: string): Finding => ({ severity: 'breaking', kind, message });
const warning = (kind: FindingKind, message: string): Finding => ({ severity: 'warning', kind, message });

function describeError(e: ErrorObject, what: string): Finding {
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
function closeObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closeObjects);
  if (node === null || typeof node !== 'object') return node;
  const copy = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, closeObjects(value)])) as Record<string, unknown>;
  const type = copy.type;
  const isObject = type === 'object' || (Array.isArray(type) && type.includes('object'));
  if (isObject && copy.properties && copy.additionalProperties === undefined) copy.additionalProperties = false;
  return copy;
}
