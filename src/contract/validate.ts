// Checks a response against what the spec declares for (operation, status), with
// a real JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) over the spec's
// own schemas: no field-by-field checks written by hand.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { ProviderName } from '../errors.js';
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
  /** JSON pointer (into the spec) of the application/json schema, when the response has one. */
  schemaPointer?: string;
  /** Media types the response declares; empty for a response without content. */
  mediaTypes: string[];
}

export class SpecValidator {
  readonly provider: ProviderName;
  private readonly doc: OpenApiDocument;
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly operations = new Map<string, { pointer: string; responses: Record<string, unknown> }>();

  constructor(provider: ProviderName, doc: OpenApiDocument = loadSpec(provider)) {
    this.provider = provider;
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
    for (const [format, limit] of Object.entries(INT_LIMITS)) {
      this.ajv.addFormat(format, { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -limit && n < limit });
    }
    for (const format of ['float', 'double']) this.ajv.addFormat(format, { type: 'number', validate: () => true });
    this.ajv.addSchema(doc as object, 'spec');
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
    const mediaTypes = Object.keys(response.content ?? {});
    return {
      mediaTypes,
      ...(mediaTypes.includes('application/json') ? { schemaPointer: `${pointer}/content/application~1json/schema` } : {}),
    };
  }

  private validator(pointer: string): ValidateFunction {
    let validate = this.compiled.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `spec#${pointer}` });
      this.compiled.set(pointer, validate);
    }
    return validate;
  }

  /** Everything about `observed` that breaks the spec; empty when it conforms. */
  check(operation: string, observed: ObservedResponse): string[] {
    const declared = this.declared(operation, observed.status);
    if (!declared) return [`status ${observed.status} is not declared for ${operation}`];
    if (declared.mediaTypes.length === 0) {
      return observed.bodyText === '' ? [] : [`status ${observed.status} declares no body, got ${observed.bodyText.length} bytes`];
    }
    const mediaType = observed.contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
    if (!declared.mediaTypes.includes(mediaType)) {
      return [`content type ${mediaType || '(none)'} is not declared (${declared.mediaTypes.join(', ')})`];
    }
    if (!declared.schemaPointer) return [];
    let body: unknown;
    try {
      body = JSON.parse(observed.bodyText);
    } catch {
      return ['body is not valid JSON'];
    }
    const validate = this.validator(declared.schemaPointer);
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `body${e.instancePath || ''} ${e.message ?? 'is invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`);
  }
}
