// Says in a few words what a schema allows, so that an error about a value that
// fits none of an anyOf/oneOf names the forms it could have taken ("pid must be a
// positive PID or a managed process name"), not just that there were some.
import type { SchemaConstraints } from './operation.js';

const article = (noun: string) => (/^[aeiou]/i.test(noun) ? `an ${noun}` : `a ${noun}`);

function range(schema: SchemaConstraints): string {
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = schema;
  const bounds = [
    minimum !== undefined && `>= ${minimum}`,
    exclusiveMinimum !== undefined && `> ${exclusiveMinimum}`,
    maximum !== undefined && `<= ${maximum}`,
    exclusiveMaximum !== undefined && `< ${exclusiveMaximum}`,
  ].filter((bound): bound is string => typeof bound === 'string');
  return bounds.length === 0 ? '' : ` ${bounds.join(' and ')}`;
}

/** One alternative, as a noun phrase: the spec's title when it gives one, else built from its type and constraints. */
export function describeSchema(schema: SchemaConstraints): string {
  if (schema.title) return schema.title;
  if (schema.enum) return `one of ${schema.enum.map((value) => JSON.stringify(value)).join(', ')}`;
  if ('const' in schema) return JSON.stringify(schema.const);
  const types = schema.type === undefined ? [] : typeof schema.type === 'string' ? [schema.type] : [...schema.type];
  const phrases = types.map((type) => {
    if (type === 'null') return 'null';
    if (type === 'integer' || type === 'number') {
      if (schema.minimum === 1 && type === 'integer' && schema.maximum === undefined) return 'a positive integer';
      return `${article(type)}${range(schema)}`;
    }
    if (type === 'string') {
      const length = schema.minLength !== undefined && schema.minLength > 0 ? 'non-empty string' : 'string';
      return `${article(length)}${schema.pattern ? ` matching ${schema.pattern}` : ''}`;
    }
    if (type === 'object' && schema.required?.length) return `an object with ${schema.required.join(' and ')}`;
    return article(type);
  });
  if (phrases.length === 0 && schema.required?.length) return `an object with ${schema.required.join(' and ')}`;
  if (phrases.length === 0) return 'a value of another form';
  return phrases.join(' or ');
}

/** "a, b or c": the forms a value may take. */
export function describeAlternatives(alternatives: readonly SchemaConstraints[]): string {
  const names = [...new Set(alternatives.map(describeSchema))];
  return names.length <= 1 ? (names[0] ?? 'nothing') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}
