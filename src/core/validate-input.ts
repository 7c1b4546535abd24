// Checks a request against the constraints the spec states, before anything is
// sent. Covers the JSON Schema subset our specs use for inputs; the rules come from
// generated/<provider>.operations.ts, never from hand-written copies.
import { describeAlternatives } from './describe-schema.js';
import type { OperationMeta, RequestInput, SchemaConstraints } from './operation.js';

const INT_RANGES: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeOf(value);
}

function matchesType(expected: string, value: unknown): boolean {
  const actual = typeOf(value);
  if (expected === 'number') return actual === 'number' || actual === 'integer';
  return expected === actual;
}

/** The first way `value` breaks `schema`, or undefined when it fits. */
export function findViolation(schema: SchemaConstraints, value: unknown, at: string): string | undefined {
  for (const sub of schema.allOf ?? []) {
    const problem = findViolation(sub, value, at);
    if (problem) return problem;
  }
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives && alternatives.every((sub) => findViolation(sub, value, at) !== undefined)) {
    return `${at} must be ${describeAlternatives(alternatives)}, got ${show(value)}`;
  }
  if (schema.type !== undefined) {
    const types = typeof schema.type === 'string' ? [schema.type] : schema.type;
    if (!types.some((t) => matchesType(t, value))) {
      return `${at} must be ${types.join(' or ')}, got ${show(value)}`;
    }
  }
  if (schema.enum && !schema.enum.includes(value)) {
    return `${at} must be one of ${schema.enum.map(show).join(', ')}, got ${show(value)}`;
  }
  if ('const' in schema && schema.const !== value) return `${at} must be ${show(schema.const)}`;
  if (typeof value === 'number') {
    const range = schema.format ? INT_RANGES[schema.format] : undefined;
    if (range && (value < range[0] || value > range[1])) return `${at} must fit ${schema.format}, got ${show(value)}`;
    if (schema.minimum !== undefined && value < schema.minimum) return `${at} must be >= ${schema.minimum}, got ${show(value)}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${at} must be <= ${schema.maximum}, got ${show(value)}`;
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return `${at} must be > ${schema.exclusiveMinimum}`;
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) return `${at} must be < ${schema.exclusiveMaximum}`;
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      return schema.minLength === 1 ? `${at} must not be empty` : `${at} must have at least ${schema.minLength} characters`;
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) return `${at} must have at most ${schema.maxLength} characters`;
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) return `${at} must match ${schema.pattern}`;
  }
  if (Array.isArray(value) && schema.items) {
    for (const [i, item] of value.entries()) {
      const problem = findViolation(schema.items, item, `${at}[${i}]`);
      if (problem) return problem;
    }
  }
  if (typeOf(value) === 'object') {
    const record = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (record[name] === undefined) return `${at}.${name} is required`;
    }
    for (const [name, item] of Object.entries(record)) {
      if (item === undefined) continue;
      const sub = schema.properties?.[name] ?? schema.additionalProperties;
      if (sub === false) return `${at}.${name} is not allowed`;
      if (sub === undefined || sub === true) continue;
      const problem = findViolation(sub, item, `${at}.${name}`);
      if (problem) return problem;
    }
  }
  return undefined;
}

/** The first problem with a whole request, or undefined when it may be sent. */
export function findRequestViolation(meta: OperationMeta, input: RequestInput): string | undefined {
  for (const param of meta.parameters) {
    if (param.in !== 'path' && param.in !== 'query') continue;
    const value = input[param.in]?.[param.name];
    if (value === undefined) {
      if (param.required) return `${param.name} is required`;
      continue;
    }
    const problem = findViolation(param.schema, value, param.name);
    if (problem) return problem;
    // A lone surrogate cannot be percent-encoded into a URL.
    if (typeof value === 'string' && /\p{Cs}/u.test(value)) return `${param.name} must be well-formed Unicode`;
    // An encoded "." or ".." still walks up a URL path once it is resolved.
    if (param.in === 'path' && (value === '.' || value === '..')) return `${param.name} must not be "${value}"`;
  }
  if (meta.requestBody) {
    if (input.body === undefined) return meta.requestBody.required ? 'a request body is required' : undefined;
    return unknownField(meta.requestBody.schema, input.body) ?? findViolation(meta.requestBody.schema, input.body, 'body');
  }
  return undefined;
}

/**
 * A top-level field the operation does not know, in a body whose fields the spec
 * lists. Servers ignore such a field, so a typo (`cwd` for `working_dir`) would
 * silently do nothing; TypeScript catches it, plain JavaScript would not.
 */
function unknownField(schema: SchemaConstraints, body: unknown): string | undefined {
  if (!schema.properties || schema.additionalProperties !== undefined || typeOf(body) !== 'object') return undefined;
  const known = Object.keys(schema.properties);
  const unknown = Object.keys(body as Record<string, unknown>).find((name) => !Object.hasOwn(schema.properties!, name) && (body as Record<string, unknown>)[name] !== undefined);
  return unknown === undefined ? undefined : `body.${unknown} is not a field of this request (known: ${known.join(', ')})`;
}
