// Finding a secret in text however it was escaped on its way there: raw, JSON
// (`\"`, `\u00e9`, at any depth), XML/HTML entities, URL encoding (percent-encoded
// UTF-8 or Latin-1, `+` for a space, `%25` again), JSON pointer (`~1`, `~0`), or a
// mix of these, letters in any case. A server can echo a secret in any of these
// forms and the place that prints it can add one more; `split(secret)` finds one.
//
// Matching runs as a dynamic programme over (text position, characters of the
// secret matched, backslashes pending), every form of a character a sticky regex of
// one length: every way of reading the text is followed in one pass, in time linear
// in the text (times the secret's length), with no backtracking to blow up.

export const REDACTED = '[REDACTED]';

/**
 * The fewest characters a secret given to redaction may have. Redaction matches a
 * secret in any case and in every escaped form, so a short one turns up by chance in
 * ordinary text (a token `ok` would hide every "ok" of a report; `x` half its words),
 * and the report would be destroyed to hide a value that protects nothing: a key
 * of fewer than 8 characters falls to guessing. Provider keys and the emulator's own
 * tokens (`emu_` and 32 hex digits) are far longer.
 */
export const MIN_SECRET_CHARACTERS = 8;

/** Whether `text` holds `secret` in any form redaction would hide. */
export function containsSecret(text: string, secret: string): boolean {
  return findSecret(text, secret).length > 0;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const escapeRegExp = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

const XML_NAMED: Record<string, string> = { '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' };
const JSON_SHORT: Record<string, string> = { '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't' };
const POINTER: Record<string, string> = { '/': '~1', '~': '~0' };

/** Forms by the character they start with (in either case); each regex matches one form at a position, with one length. */
type Forms = Map<string, RegExp[]>;

interface CharacterForms {
  /** The character as itself, an entity, or percent-encoded; after escapes or not. */
  plain: Forms;
  /** JSON's (and JavaScript's) escapes, which only count after a backslash: `u00e9`, `x22`, `n`. */
  escaped: Forms;
}

const sticky = (source: string) => new RegExp(source, 'iy');
/** `&amp;` and `%25` for XML and URL escaping applied again: 0 to 4 times, each a form of its own. */
const AGAIN = [0, 1, 2, 3, 4];
const entity = (name: string): Array<[string, RegExp]> => AGAIN.map((k) => ['&', sticky(`&${'amp;'.repeat(k)}${name};`)]);
const percent = (bytes: number[]): Array<[string, RegExp]> => AGAIN.map((k) => ['%', sticky(bytes.map((byte) => `%${'25'.repeat(k)}${hex(byte, 2)}`).join(''))]);

function byStart(forms: Array<[string, RegExp]>): Forms {
  const index: Forms = new Map();
  for (const [start, form] of forms) {
    for (const variant of new Set([start[0]!, start.toLowerCase()[0]!, start.toUpperCase()[0]!])) {
      const list = index.get(variant) ?? [];
      index.set(variant, [...list, form]);
    }
  }
  return index;
}

/** One backslash, as itself, percent-encoded or as an entity: JSON's escape character, however it was escaped in turn. */
const BACKSLASH = byStart([['\\', sticky('\\\\')], ...percent([0x5c]), ...entity('#(?:0*92|x0*5c)')]);

/** Every form one character (a code point) can take in JSON, XML, URL or JSON-pointer text. */
function characterForms(char: string): CharacterForms {
  const code = char.codePointAt(0)!;
  const units = char.length === 2 ? [char.charCodeAt(0), char.charCodeAt(1)] : [code];
  const plain: Array<[string, RegExp]> = [[char, sticky(escapeRegExp(char))], ...entity(`#(?:0*${code}|x0*${hex(code, 1)})`), ...percent([...Buffer.from(char, 'utf8')])];
  if (XML_NAMED[char] !== undefined) plain.push(...entity(XML_NAMED[char]!));
  if (code <= 0xff) plain.push(...percent([code]));
  if (code <= 0xffff) plain.push(...AGAIN.map((k): [string, RegExp] => ['%', sticky(`%${'25'.repeat(k)}u${hex(code, 4)}`)]));
  if (char === ' ') plain.push(['+', sticky('\\+')]);
  if (POINTER[char] !== undefined) plain.push(['~', sticky(POINTER[char]!)]);
  // After a backslash; the second half of a surrogate pair after one more.
  const escaped: Array<[string, RegExp]> = [['u', sticky(units.map((u) => `u${hex(u, 4)}`).join('(?:\\\\)+'))]];
  if (JSON_SHORT[char] !== undefined) escaped.push([JSON_SHORT[char]!, sticky(escapeRegExp(JSON_SHORT[char]!))]);
  if (code <= 0xff) escaped.push(['x', sticky(`x${hex(code, 2)}`)]);
  return { plain: byStart(plain), escaped: byStart(escaped) };
}

const compiled = new Map<string, CharacterForms[]>();

function compile(secret: string): CharacterForms[] {
  let chars = compiled.get(secret);
  if (!chars) {
    chars = [...secret].map(characterForms);
    if (compiled.size >= 16) compiled.delete(compiled.keys().next().value!);
    compiled.set(secret, chars);
  }
  return chars;
}

function lengthAt(form: RegExp, text: string, p: number): number {
  form.lastIndex = p;
  return form.test(text) ? form.lastIndex - p : 0;
}

/**
 * The [start, end) spans of `text` that hold `secret` in some form, merged. States are
 * (characters matched, whether backslashes are pending); each form has one length, so
 * every way of reading the text is followed, in one pass.
 */
export function findSecret(text: string, secret: string): Array<[number, number]> {
  if (secret === '' || text === '') return [];
  const chars = compile(secret);
  const m = chars.length;
  // reach.get(p): state (2 * matched + pending escape) -> the earliest start of a match in that state at p.
  const reach = new Map<number, Map<number, number>>();
  const spans: Array<[number, number]> = [];
  const arrive = (end: number, state: number, start: number) => {
    if (state === 2 * m) {
      spans.push([start, end]);
      return;
    }
    let at = reach.get(end);
    if (!at) reach.set(end, (at = new Map()));
    const known = at.get(state);
    if (known === undefined || start < known) at.set(state, start);
  };
  const step = (p: number, state: number, start: number) => {
    const c = text[p]!;
    const j = state >> 1;
    const { plain, escaped } = chars[j]!;
    for (const form of BACKSLASH.get(c) ?? []) {
      const length = lengthAt(form, text, p);
      if (length > 0) arrive(p + length, 2 * j + 1, start);
    }
    for (const form of plain.get(c) ?? []) {
      const length = lengthAt(form, text, p);
      if (length > 0) arrive(p + length, 2 * (j + 1), start);
    }
    if (state & 1) {
      for (const form of escaped.get(c) ?? []) {
        const length = lengthAt(form, text, p);
        if (length > 0) arrive(p + length, 2 * (j + 1), start);
      }
    }
  };
  // Where nothing is under way, only a character that can begin the secret needs a look.
  const first = new Set([...chars[0]!.plain.keys(), ...BACKSLASH.keys()]);
  for (let p = 0; p < text.length; p++) {
    const at = reach.size === 0 ? undefined : reach.get(p);
    if (!at) {
      if (first.has(text[p]!)) step(p, 0, p);
      continue;
    }
    reach.delete(p);
    step(p, 0, p);
    for (const [state, start] of at) if (state !== 0) step(p, state, start);
  }
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: Array<[number, number]> = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push([span[0], span[1]]);
  }
  return merged;
}

/** The secrets a value may hold: the one given and, as a header value, what is left once it is trimmed. */
function variants(secret: string): string[] {
  const trimmed = secret.trim();
  return trimmed !== '' && trimmed !== secret ? [secret, trimmed] : [secret];
}

/** `text` with every occurrence of `secret`, in any of its escaped forms, replaced by [REDACTED]. */
export function redactText(text: string, secret: string): string {
  let result = text;
  for (const variant of variants(secret)) {
    const spans = findSecret(result, variant);
    if (spans.length === 0) continue;
    let out = '';
    let last = 0;
    for (const [start, end] of spans) {
      out += result.slice(last, start) + REDACTED;
      last = end;
    }
    result = out + result.slice(last);
  }
  return result;
}

/** A copy of `value` with every string in it, object keys included, redacted. */
export function redactDeep<T>(value: T, secret: string): T {
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return redactText(node, secret);
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, item]) => [redactText(key, secret), walk(item)]));
    }
    return node;
  };
  return walk(value) as T;
}
