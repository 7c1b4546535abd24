// A command's flags, parsed by node:util's parseArgs but worded in the CLI's own
// style: parseArgs' messages ("Unknown option '--x'", "argument is ambiguous")
// read differently from ours and change between Node versions, so it runs
// non-strict and the tokens it returns are judged here.
import { parseArgs } from 'node:util';

/** A mistake in how the CLI was called: exit 2, with a pointer to the command's --help. */
export class UsageError extends Error {}

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: true;
  /** A boolean flag that may also be given a value: `--json` alone, `--json FILE` or `--json=FILE`. */
  optionalValue?: true;
}

type FlagValue<S extends FlagSpec> = S extends { multiple: true }
  ? string[]
  : S extends { optionalValue: true }
    ? string | true
    : S extends { type: 'boolean' }
      ? boolean
      : string;

export type Flags<T extends Record<string, FlagSpec>> = { [K in keyof T]?: FlagValue<T[K]> };

/** A negative number is a value (`--timeout-ms -5` is then judged by the flag's own check); any other dash is a flag. */
const NEGATIVE_NUMBER = /^-\d/;

/** Flags of `command` ('' for the bare `sandbox-procs`); no positional arguments. */
export function parseFlags<T extends Record<string, FlagSpec>>(command: string, args: string[], specs: T): Flags<T> {
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [name, { type: spec.type, ...(spec.short !== undefined && { short: spec.short }), ...(spec.multiple && { multiple: true }) }]),
  );
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const forCommand = command === '' ? '' : ` for ${command}`;
  const values: Record<string, string | boolean | string[]> = {};
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') throw new UsageError(`unexpected argument "${token.value}"${forCommand}`);
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    const flag = token.rawName;
    if (!spec) throw new UsageError(`unknown flag ${flag}${forCommand}`);
    let value: string | boolean;
    if (spec.type === 'boolean') {
      const next = tokens[i + 1];
      if (token.value !== undefined && !spec.optionalValue) throw new UsageError(`${flag} takes no value, got "${token.value}"`);
      if (token.value !== undefined) value = token.value;
      else if (spec.optionalValue && next?.kind === 'positional') {
        value = next.value;
        i++;
      } else value = true;
    } else {
      if (token.value === undefined) throw new UsageError(`${flag} needs a value`);
      if (!token.inlineValue && token.value.startsWith('-') && !NEGATIVE_NUMBER.test(token.value)) {
        throw new UsageError(`${flag} needs a value, got the flag ${token.value} (write ${flag}=${token.value} if that is the value)`);
      }
      value = token.value;
    }
    if (spec.multiple) ((values[token.name] ??= []) as string[]).push(value as string);
    else values[token.name] = value;
  }
  return values as Flags<T>;
}
