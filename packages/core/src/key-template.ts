import { createHash } from 'node:crypto';
import type { RowImage } from './change-event.js';

/**
 * Cache key templates: `user:{id}`, `user:email:{email}`, `{tenant}:{id}`.
 *
 * A template is compiled once (config load) and rendered for every change event. The rendered
 * key is safe for the store it is meant for and follows one encoding, so the invalidator, the
 * read-through client and NGINX all compute the same key for the same row:
 *
 * 1. Column values are converted to text (strings as-is; numbers, bigints and booleans with
 *    `String`) and percent-encoded: every UTF-8 byte outside `A-Z a-z 0-9 - . _ ~` becomes
 *    `%XX` (upper-case hex). That is RFC 3986's `encodeURIComponent` in its strict form (it
 *    also encodes `! ' ( ) *`); a lone UTF-16 surrogate, which valid PostgreSQL text never
 *    holds, is encoded as its 3-byte generalised UTF-8 form instead of failing. So a value
 *    can never contain `:` `{` `}` `#` `@` `%`-as-text, whitespace or control bytes, and
 *    `user:{id}` with id `1:orders` (→ `user:1%3Aorders`) can never forge another key's shape.
 * 2. Literal template text is printable ASCII without space, `%`, `#` or `@`, written as-is
 *    (`\{`, `\}` and `\\` for literal braces and backslash, e.g. Redis Cluster hash tags:
 *    `\{{tenant}\}:{id}` → `{acme}:42`).
 * 3. Two placeholders must be separated by literal text holding at least one character that
 *    encoded values never contain (such as `:` or `/`), so every template renders distinct
 *    rows to distinct keys (`{a}-{b}` is refused: `1-2` + `3` and `1` + `2-3` would meet).
 * 4. Optional store prefix, then generation: `<keyPrefix>g<N>@<key>` for generation N ≥ 1;
 *    generation 0 (or none) adds nothing, so NGINX can look plain keys up. `@` occurs in no
 *    other key, so generation keys never meet plain ones.
 * 5. A key longer than the store's limit (Memcached 250 bytes, Redis 1024 by default) becomes
 *    `<first bytes of the key>#<base64url SHA-256 of the whole key>`, exactly the limit or
 *    shorter. `#` occurs in no other key, so a hashed key never meets an unhashed one, and two
 *    hashed keys meet only if SHA-256 collides.
 *
 * Rendered keys are pure ASCII, so their length in characters is their length in bytes.
 */

export type KeyStore = 'redis' | 'memcached';

/** Longest key, in bytes, each store accepts before a key is hashed (Memcached's hard limit is 250). */
export const KEY_LIMITS: Readonly<Record<KeyStore, number>> = { memcached: 250, redis: 1024 };

/** Largest allowed key limit per store (Memcached's is hard; Redis allows 512 MB but long keys are slow). */
export const MAX_KEY_BYTES: Readonly<Record<KeyStore, number>> = { memcached: 250, redis: 65_536 };

/** Shortest allowed key limit: the hashed form needs 44 bytes (`#` and 43 base64url characters). */
export const MIN_KEY_BYTES = 64;

const HASH_SUFFIX_BYTES = 1 + 43;
/** Longest generation marker: `g9007199254740991@`. */
const MAX_GENERATION_MARKER_BYTES = 18;

export interface KeyTemplateOptions {
  /** Store the keys are for: sets the default key length limit. Default `memcached` (the strictest). */
  store?: KeyStore;
  /** Key length limit in bytes; keys longer than this are hashed. Default `KEY_LIMITS[store]`. */
  maxKeyBytes?: number;
  /** Literal prefix for every key of this store (test isolation, several apps on one server). */
  keyPrefix?: string;
}

export interface KeyRenderOptions {
  /** The table's generation (bumped by TRUNCATE). 0 or absent: no generation marker. */
  generation?: number;
}

export type KeyRenderFailure = 'missing-column' | 'null-column' | 'unsupported-value' | 'invalid-generation';

export type KeyRenderResult =
  | { ok: true; key: string; hashed: boolean }
  | { ok: false; code: KeyRenderFailure; column: string | null; reason: string };

export interface KeyTemplate {
  /** The template as written. */
  readonly text: string;
  /** Columns the template reads, in order of first use, each once (for REPLICA IDENTITY checks). */
  readonly columns: readonly string[];
  readonly store: KeyStore;
  readonly maxKeyBytes: number;
  readonly keyPrefix: string;
  /** The key for one row image; never throws. */
  render(row: RowImage, options?: KeyRenderOptions): KeyRenderResult;
}

/** A malformed template (or key prefix): `message` names the template, the position and the fix. */
export class KeyTemplateError extends Error {
  readonly code = 'INVALID_KEY_TEMPLATE';
  constructor(
    readonly template: string,
    /** 1-based character position of the problem, or null when it concerns the whole template. */
    readonly column: number | null,
    /** The problem without the template: `<what is wrong>; <what to do>`. */
    readonly problem: string,
  ) {
    super(`key template ${JSON.stringify(template)}: ${problem}`);
    this.name = 'KeyTemplateError';
  }
}

type Part = { kind: 'literal'; text: string } | { kind: 'column'; name: string; column: number };

const SAFE_VALUE = /^[A-Za-z0-9._~-]*$/;
/** Characters of literal text that encoded values never contain: they delimit placeholders. */
const VALUE_ALPHABET = /^[A-Za-z0-9._~%-]$/;
const RESERVED_LITERALS: Readonly<Record<string, string>> = {
  '%': '"%" marks an encoded byte in values',
  '#': '"#" marks a hashed key',
  '@': '"@" marks the generation',
};

const HEX: string[] = Array.from(
  { length: 256 },
  (_, byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
);

/**
 * Percent-encodes one value for a key: bytes outside `A-Z a-z 0-9 - . _ ~` become `%XX`.
 * Injective on strings (lone surrogates included), deterministic, and the identity on plain
 * identifiers and numbers.
 */
export function encodeKeyValue(value: string): string {
  if (SAFE_VALUE.test(value)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    let code = value.charCodeAt(i);
    if (code < 0x80) {
      out += isSafeAscii(code) ? value[i] : HEX[code];
      continue;
    }
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length) {
      const low = value.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (code < 0x800) {
      out += HEX[0xc0 | (code >> 6)]! + HEX[0x80 | (code & 0x3f)]!;
    } else if (code < 0x10000) {
      out += HEX[0xe0 | (code >> 12)]! + HEX[0x80 | ((code >> 6) & 0x3f)]! + HEX[0x80 | (code & 0x3f)]!;
    } else {
      out +=
        HEX[0xf0 | (code >> 18)]! +
        HEX[0x80 | ((code >> 12) & 0x3f)]! +
        HEX[0x80 | ((code >> 6) & 0x3f)]! +
        HEX[0x80 | (code & 0x3f)]!;
    }
  }
  return out;
}

function isSafeAscii(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x2d || // -
    code === 0x2e || // .
    code === 0x5f || // _
    code === 0x7e // ~
  );
}

/** Why a literal character cannot be in a key, or null when it can. */
function literalProblem(char: string): string | null {
  const reserved = RESERVED_LITERALS[char];
  if (reserved !== undefined) return reserved;
  const code = char.charCodeAt(0);
  if (code === 0x20) return 'keys cannot contain spaces';
  if (code < 0x20 || code === 0x7f) return 'keys cannot contain control characters';
  if (code > 0x7e)
    return 'literal key text must be printable ASCII (values may hold any text: they are encoded)';
  return null;
}

function describeChar(char: string): string {
  return JSON.stringify(char);
}

/** Parses a template; throws KeyTemplateError on the first problem. */
function parseTemplate(text: string): Part[] {
  if (text.length === 0)
    throw new KeyTemplateError(text, null, 'the template is empty; write one such as user:{id}');
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  const flushLiteral = (): void => {
    if (literal.length > 0) parts.push({ kind: 'literal', text: literal });
    literal = '';
  };
  while (i < text.length) {
    const char = text[i]!;
    const column = i + 1;
    if (char === '\\') {
      const next = text[i + 1];
      if (next === undefined) {
        throw new KeyTemplateError(
          text,
          column,
          `"\\" at column ${column} ends the template; write \\\\ for a literal backslash`,
        );
      }
      if (next !== '{' && next !== '}' && next !== '\\') {
        throw new KeyTemplateError(
          text,
          column,
          `unknown escape ${describeChar(`\\${next}`)} at column ${column}; the only escapes are \\{, \\} and \\\\`,
        );
      }
      literal += next;
      i += 2;
      continue;
    }
    if (char === '}') {
      throw new KeyTemplateError(
        text,
        column,
        `"}" at column ${column} has no matching "{"; remove it, or write \\} for a literal brace`,
      );
    }
    if (char === '{') {
      const close = text.indexOf('}', i + 1);
      const nestedOpen = text.indexOf('{', i + 1);
      if (close === -1) {
        throw new KeyTemplateError(
          text,
          column,
          `"{" at column ${column} is never closed; add "}" after the column name, or write \\{ for a literal brace`,
        );
      }
      if (nestedOpen !== -1 && nestedOpen < close) {
        throw new KeyTemplateError(
          text,
          nestedOpen + 1,
          `"{" at column ${nestedOpen + 1} opens inside the placeholder opened at column ${column}; close the first placeholder with "}" before the next one`,
        );
      }
      const name = text.slice(i + 1, close);
      if (name.length === 0) {
        throw new KeyTemplateError(
          text,
          column,
          `empty column name at column ${column}; write a column between the braces, such as {id}`,
        );
      }
      if (name.trim() !== name) {
        throw new KeyTemplateError(
          text,
          column + 1,
          `column name ${JSON.stringify(name)} at column ${column + 1} has spaces around it; write {${name.trim()}}`,
        );
      }
      if ([...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f || c === '\\')) {
        throw new KeyTemplateError(
          text,
          column + 1,
          `column name ${JSON.stringify(name)} at column ${column + 1} contains a control character or backslash; write the column's name as PostgreSQL spells it`,
        );
      }
      const previous = parts.at(-1);
      if (literal.length === 0 && previous?.kind === 'column') {
        throw new KeyTemplateError(
          text,
          column,
          `{${previous.name}} and {${name}} at column ${column} touch; separate them with a delimiter such as ":" (otherwise "1"+"23" and "12"+"3" give the same key)`,
        );
      }
      if (
        literal.length > 0 &&
        previous?.kind === 'column' &&
        ![...literal].some((c) => !VALUE_ALPHABET.test(c))
      ) {
        throw new KeyTemplateError(
          text,
          column,
          `{${previous.name}} and {${name}} are separated only by ${JSON.stringify(literal)}, which values can also contain; use a delimiter such as ":" or "/" (otherwise distinct rows could share a key)`,
        );
      }
      flushLiteral();
      parts.push({ kind: 'column', name, column });
      i = close + 1;
      continue;
    }
    const problem = literalProblem(char);
    if (problem !== null) {
      throw new KeyTemplateError(
        text,
        column,
        `${describeChar(char)} at column ${column} cannot be in a key: ${problem}; remove it or use a delimiter such as ":"`,
      );
    }
    literal += char;
    i++;
  }
  flushLiteral();
  return parts;
}

function checkKeyPrefix(prefix: string, maxKeyBytes: number): void {
  for (let i = 0; i < prefix.length; i++) {
    const char = prefix[i]!;
    const problem = '{}\\'.includes(char)
      ? 'braces and backslashes are not allowed in a prefix'
      : literalProblem(char);
    if (problem !== null) {
      throw new KeyTemplateError(
        prefix,
        i + 1,
        `${describeChar(char)} at column ${i + 1} cannot be in a key prefix: ${problem}; use letters, digits and ":"`,
      );
    }
  }
  const longest = maxKeyBytes - HASH_SUFFIX_BYTES - MAX_GENERATION_MARKER_BYTES - 2;
  if (prefix.length > longest) {
    throw new KeyTemplateError(
      prefix,
      null,
      `the key prefix is ${prefix.length} bytes, longer than ${longest} (keys are limited to ${maxKeyBytes} bytes); shorten it`,
    );
  }
}

export function compileKeyTemplate(text: string, options: KeyTemplateOptions = {}): KeyTemplate {
  const store = options.store ?? 'memcached';
  const maxKeyBytes = options.maxKeyBytes ?? KEY_LIMITS[store];
  const ceiling = MAX_KEY_BYTES[store];
  if (!Number.isSafeInteger(maxKeyBytes) || maxKeyBytes < MIN_KEY_BYTES || maxKeyBytes > ceiling) {
    throw new RangeError(
      `maxKeyBytes ${maxKeyBytes} is out of range for ${store}; use ${MIN_KEY_BYTES}..${ceiling}`,
    );
  }
  const keyPrefix = options.keyPrefix ?? '';
  checkKeyPrefix(keyPrefix, maxKeyBytes);
  const parts = parseTemplate(text);
  const columns = [...new Set(parts.flatMap((part) => (part.kind === 'column' ? [part.name] : [])))];
  const quoted = JSON.stringify(text);

  const render = (row: RowImage, renderOptions?: KeyRenderOptions): KeyRenderResult => {
    const generation = renderOptions?.generation ?? 0;
    if (!Number.isSafeInteger(generation) || generation < 0) {
      return {
        ok: false,
        code: 'invalid-generation',
        column: null,
        reason: `key template ${quoted}: generation ${String(generation)} is not a whole number >= 0`,
      };
    }
    let key = generation === 0 ? keyPrefix : `${keyPrefix}g${generation}@`;
    for (const part of parts) {
      if (part.kind === 'literal') {
        key += part.text;
        continue;
      }
      const name = part.name;
      if (!Object.hasOwn(row, name) || row[name] === undefined) {
        return {
          ok: false,
          code: 'missing-column',
          column: name,
          reason: `key template ${quoted}: column "${name}" is missing from the row image`,
        };
      }
      const value = row[name];
      if (value === null) {
        return {
          ok: false,
          code: 'null-column',
          column: name,
          reason: `key template ${quoted}: column "${name}" is NULL, so the row has no such key`,
        };
      }
      if (typeof value === 'string') key += encodeKeyValue(value);
      else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
        key += encodeKeyValue(String(value));
      } else {
        return {
          ok: false,
          code: 'unsupported-value',
          column: name,
          reason: `key template ${quoted}: column "${name}" holds ${describeKind(value)}; key columns must be text, numbers or booleans`,
        };
      }
    }
    if (key.length <= maxKeyBytes) return { ok: true, key, hashed: false };
    return { ok: true, key: hashLongKey(key, maxKeyBytes), hashed: true };
  };

  return Object.freeze({ text, columns: Object.freeze(columns), store, maxKeyBytes, keyPrefix, render });
}

function describeKind(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (value instanceof Uint8Array) return 'binary data';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** `<first bytes>#<base64url sha256>`, at most maxKeyBytes long; never cuts a `%XX` escape in two. */
function hashLongKey(key: string, maxKeyBytes: number): string {
  let keep = maxKeyBytes - HASH_SUFFIX_BYTES;
  if (key[keep - 1] === '%') keep -= 1;
  else if (key[keep - 2] === '%') keep -= 2;
  const digest = createHash('sha256').update(key).digest('base64url');
  return `${key.slice(0, keep)}#${digest}`;
}
