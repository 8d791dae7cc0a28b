import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compileKeyTemplate,
  encodeKeyValue,
  KEY_LIMITS,
  type KeyRenderResult,
  KeyTemplateError,
} from './key-template.js';

function keyOf(result: KeyRenderResult): string {
  if (!result.ok) throw new Error(`expected a key, got: ${result.reason}`);
  return result.key;
}

/** No byte a Memcached text-protocol key may not hold: whitespace, control characters, non-ASCII. */
const MEMCACHED_SAFE = /^[\x21-\x7e]+$/;

function compileError(text: string): KeyTemplateError {
  try {
    compileKeyTemplate(text);
  } catch (error) {
    if (error instanceof KeyTemplateError) return error;
    throw error;
  }
  throw new Error(`template ${text} compiled`);
}

describe('compileKeyTemplate', () => {
  it('lists the columns a template reads, each once, in order of first use', () => {
    expect(compileKeyTemplate('user:{id}').columns).toEqual(['id']);
    expect(compileKeyTemplate('user:email:{email}').columns).toEqual(['email']);
    expect(compileKeyTemplate('user:{user_id}:orders').columns).toEqual(['user_id']);
    expect(compileKeyTemplate('{tenant}:{id}:{tenant}').columns).toEqual(['tenant', 'id']);
    expect(compileKeyTemplate('products:all').columns).toEqual([]);
  });

  it('renders ordinary keys readably', () => {
    expect(keyOf(compileKeyTemplate('user:{id}').render({ id: 42 }))).toBe('user:42');
    expect(keyOf(compileKeyTemplate('user:email:{email}').render({ email: 'ann@example.com' }))).toBe(
      'user:email:ann%40example.com',
    );
    expect(keyOf(compileKeyTemplate('user:{user_id}:orders').render({ user_id: '7', id: 1 }))).toBe(
      'user:7:orders',
    );
    expect(keyOf(compileKeyTemplate('{tenant}:{id}').render({ tenant: 'acme', id: '9' }))).toBe('acme:9');
    expect(keyOf(compileKeyTemplate('products:all').render({}))).toBe('products:all');
  });

  it('renders numbers, bigints, numeric strings and booleans through String', () => {
    const template = compileKeyTemplate('k:{v}');
    expect(keyOf(template.render({ v: 12345678901234567890n }))).toBe('k:12345678901234567890');
    expect(keyOf(template.render({ v: '12345678901234567890' }))).toBe('k:12345678901234567890');
    expect(keyOf(template.render({ v: 1.5 }))).toBe('k:1.5');
    expect(keyOf(template.render({ v: -3 }))).toBe('k:-3');
    expect(keyOf(template.render({ v: '-3.250' }))).toBe('k:-3.250');
    expect(keyOf(template.render({ v: true }))).toBe('k:true');
    // the same value as text (pg's text output) and as a parsed number gives the same key
    expect(keyOf(template.render({ v: 42 }))).toBe(keyOf(template.render({ v: '42' })));
  });

  it('encodes whitespace and control characters so Memcached keys never hold them', () => {
    const template = compileKeyTemplate('user:name:{name}');
    expect(keyOf(template.render({ name: 'Ann Lee' }))).toBe('user:name:Ann%20Lee');
    expect(keyOf(template.render({ name: 'a\nb' }))).toBe('user:name:a%0Ab');
    expect(keyOf(template.render({ name: 'a\tb' }))).toBe('user:name:a%09b');
    expect(keyOf(template.render({ name: 'a\r\n\0\x7f' }))).toBe('user:name:a%0D%0A%00%7F');
    expect(keyOf(template.render({ name: '' }))).toBe('user:name:');
  });

  it('encodes unicode as UTF-8 bytes: emoji, CJK and combining characters', () => {
    const template = compileKeyTemplate('user:name:{name}');
    expect(keyOf(template.render({ name: '😀' }))).toBe('user:name:%F0%9F%98%80');
    expect(keyOf(template.render({ name: '東京' }))).toBe('user:name:%E6%9D%B1%E4%BA%AC');
    // "é" precomposed and "e" + combining acute are different text, hence different keys
    const precomposed = keyOf(template.render({ name: '\u00e9' }));
    const combining = keyOf(template.render({ name: 'e\u0301' }));
    expect(precomposed).toBe('user:name:%C3%A9');
    expect(combining).toBe('user:name:e%CC%81');
    // a lone surrogate (never in valid pg text) still gets its own key instead of U+FFFD's
    expect(keyOf(template.render({ name: '\ud800' }))).toBe('user:name:%ED%A0%80');
    expect(keyOf(template.render({ name: '\ufffd' }))).toBe('user:name:%EF%BF%BD');
  });

  it('matches strict RFC 3986 percent-encoding for well-formed text', () => {
    const strict = (text: string): string =>
      encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    for (const text of ['a b', "it's (x)*!", '東京😀', 'a/b?c=d&e#f', '~._-', '100%']) {
      expect(encodeKeyValue(text)).toBe(strict(text));
    }
  });

  it('encodes ":", "{", "}", "%", "#" and "@" in values, so a value cannot forge another key', () => {
    const template = compileKeyTemplate('user:{id}');
    expect(keyOf(template.render({ id: '1:orders' }))).toBe('user:1%3Aorders');
    expect(keyOf(template.render({ id: '{id}' }))).toBe('user:%7Bid%7D');
    expect(keyOf(template.render({ id: '100%' }))).toBe('user:100%25');
    expect(keyOf(template.render({ id: '%3A' }))).toBe('user:%253A');
    expect(keyOf(template.render({ id: 'a#b@c' }))).toBe('user:a%23b%40c');
    // `user:{id}` with id "7:orders" cannot equal `user:{user_id}:orders` with user_id 7
    expect(keyOf(template.render({ id: '7:orders' }))).not.toBe(
      keyOf(compileKeyTemplate('user:{user_id}:orders').render({ user_id: 7 })),
    );
  });

  it('hashes a key over 250 bytes for Memcached into a readable prefix and a SHA-256', () => {
    const template = compileKeyTemplate('doc:{slug}');
    const slug = 'x'.repeat(300);
    const result = template.render({ slug });
    if (!result.ok) throw new Error(result.reason);
    expect(result.hashed).toBe(true);
    expect(result.key.length).toBeLessThanOrEqual(250);
    const full = `doc:${slug}`;
    const digest = createHash('sha256').update(full).digest('base64url');
    expect(result.key).toBe(`${full.slice(0, 250 - 44)}#${digest}`);
    expect(result.key).toMatch(MEMCACHED_SAFE);
    // one more byte gives another key
    expect(keyOf(template.render({ slug: `${slug}x` }))).not.toBe(result.key);
  });

  it('keeps a key of exactly the limit unhashed and never cuts a %XX escape in two', () => {
    const template = compileKeyTemplate('k:{v}');
    const exact = template.render({ v: 'a'.repeat(248) });
    expect(exact).toEqual({ ok: true, key: `k:${'a'.repeat(248)}`, hashed: false });
    for (let pad = 0; pad < 3; pad++) {
      const key = keyOf(template.render({ v: `${'a'.repeat(200 + pad)}${' '.repeat(40)}` }));
      const [prefix] = key.split('#');
      expect(prefix).toMatch(/^k:a+(%20)*$/);
      expect(key.length).toBeLessThanOrEqual(250);
    }
  });

  it('allows longer keys for Redis (1024 bytes by default) and hashes beyond', () => {
    const template = compileKeyTemplate('doc:{slug}', { store: 'redis' });
    expect(template.maxKeyBytes).toBe(KEY_LIMITS.redis);
    const long = template.render({ slug: 'y'.repeat(300) });
    expect(long.ok && long.hashed).toBe(false);
    const longer = template.render({ slug: 'y'.repeat(1100) });
    expect(longer.ok && longer.hashed && longer.key.length).toBe(1024);
  });

  it('applies the same value encoding for Redis as for Memcached', () => {
    const row = { id: 'a b:😀' };
    expect(keyOf(compileKeyTemplate('user:{id}', { store: 'redis' }).render(row))).toBe(
      keyOf(compileKeyTemplate('user:{id}').render(row)),
    );
  });

  it('puts the generation after the store prefix as g<N>@ and leaves generation 0 plain', () => {
    const template = compileKeyTemplate('user:{id}');
    expect(keyOf(template.render({ id: 42 }))).toBe('user:42');
    expect(keyOf(template.render({ id: 42 }, { generation: 0 }))).toBe('user:42');
    expect(keyOf(template.render({ id: 42 }, { generation: 3 }))).toBe('g3@user:42');
    const prefixed = compileKeyTemplate('user:{id}', { keyPrefix: 't_1:' });
    expect(keyOf(prefixed.render({ id: 42 }))).toBe('t_1:user:42');
    expect(keyOf(prefixed.render({ id: 42 }, { generation: 12 }))).toBe('t_1:g12@user:42');
    // a value can never produce the generation marker
    expect(keyOf(compileKeyTemplate('{id}').render({ id: 'g3@user:42' }))).toBe('g3%40user%3A42');
  });

  it('keeps the store prefix and generation in a hashed key', () => {
    const template = compileKeyTemplate('doc:{slug}', { keyPrefix: 'app1:' });
    const key = keyOf(template.render({ slug: 'z'.repeat(400) }, { generation: 5 }));
    expect(key.startsWith('app1:g5@doc:zzz')).toBe(true);
    expect(key).toContain('#');
  });

  it('refuses an invalid generation as a result, not an exception', () => {
    const result = compileKeyTemplate('user:{id}').render({ id: 1 }, { generation: -1 });
    expect(result).toEqual({
      ok: false,
      code: 'invalid-generation',
      column: null,
      reason: 'key template "user:{id}": generation -1 is not a whole number >= 0',
    });
  });

  it('returns a one-line reason naming column and template for a missing column', () => {
    const result = compileKeyTemplate('user:email:{email}').render({ id: 1 });
    expect(result).toEqual({
      ok: false,
      code: 'missing-column',
      column: 'email',
      reason: 'key template "user:email:{email}": column "email" is missing from the row image',
    });
    // present but undefined (an unchanged TOAST value is absent) counts as missing
    expect(compileKeyTemplate('user:email:{email}').render({ email: undefined })).toMatchObject({
      ok: false,
      code: 'missing-column',
    });
  });

  it('returns a one-line reason for a SQL NULL column', () => {
    expect(compileKeyTemplate('{tenant}:{id}').render({ tenant: null, id: 1 })).toEqual({
      ok: false,
      code: 'null-column',
      column: 'tenant',
      reason: 'key template "{tenant}:{id}": column "tenant" is NULL, so the row has no such key',
    });
  });

  it('does not read inherited properties as columns', () => {
    expect(compileKeyTemplate('k:{constructor}').render({})).toMatchObject({
      ok: false,
      code: 'missing-column',
    });
    expect(compileKeyTemplate('k:{toString}').render(Object.create(null))).toMatchObject({ ok: false });
  });

  it('refuses objects, arrays and dates as key values', () => {
    const template = compileKeyTemplate('k:{v}');
    expect(template.render({ v: { a: 1 } })).toEqual({
      ok: false,
      code: 'unsupported-value',
      column: 'v',
      reason:
        'key template "k:{v}": column "v" holds an object; key columns must be text, numbers or booleans',
    });
    expect(template.render({ v: [1] })).toMatchObject({ ok: false, code: 'unsupported-value' });
    expect(template.render({ v: new Date(0) })).toMatchObject({ ok: false, code: 'unsupported-value' });
  });

  it('supports escaped braces, e.g. Redis Cluster hash tags', () => {
    const template = compileKeyTemplate('\\{{tenant}\\}:user:{id}', { store: 'redis' });
    expect(template.columns).toEqual(['tenant', 'id']);
    expect(keyOf(template.render({ tenant: 'acme', id: 1 }))).toBe('{acme}:user:1');
    expect(keyOf(template.render({ tenant: 'a}b', id: 1 }))).toBe('{a%7Db}:user:1');
    expect(keyOf(compileKeyTemplate('a\\\\b:{id}').render({ id: 1 }))).toBe('a\\b:1');
  });

  describe('malformed templates name the template, the position and the fix', () => {
    const cases: Array<[string, string]> = [
      ['', 'key template "": the template is empty; write one such as user:{id}'],
      [
        'user:{id',
        'key template "user:{id": "{" at column 6 is never closed; add "}" after the column name, or write \\{ for a literal brace',
      ],
      [
        'user:id}',
        'key template "user:id}": "}" at column 8 has no matching "{"; remove it, or write \\} for a literal brace',
      ],
      [
        'user:{}',
        'key template "user:{}": empty column name at column 6; write a column between the braces, such as {id}',
      ],
      [
        'user:{a{b}}',
        'key template "user:{a{b}}": "{" at column 8 opens inside the placeholder opened at column 6; close the first placeholder with "}" before the next one',
      ],
      [
        'user:\\n{id}',
        'key template "user:\\\\n{id}": unknown escape "\\\\n" at column 6; the only escapes are \\{, \\} and \\\\',
      ],
      [
        'user:{id}\\',
        'key template "user:{id}\\\\": "\\" at column 10 ends the template; write \\\\ for a literal backslash',
      ],
      [
        'user {id}',
        'key template "user {id}": " " at column 5 cannot be in a key: keys cannot contain spaces; remove it or use a delimiter such as ":"',
      ],
      [
        'user:{ id }',
        'key template "user:{ id }": column name " id " at column 7 has spaces around it; write {id}',
      ],
      [
        'user%{id}',
        'key template "user%{id}": "%" at column 5 cannot be in a key: "%" marks an encoded byte in values; remove it or use a delimiter such as ":"',
      ],
      [
        'ключ:{id}',
        'key template "ключ:{id}": "к" at column 1 cannot be in a key: literal key text must be printable ASCII (values may hold any text: they are encoded); remove it or use a delimiter such as ":"',
      ],
      [
        '{a}{b}',
        'key template "{a}{b}": {a} and {b} at column 4 touch; separate them with a delimiter such as ":" (otherwise "1"+"23" and "12"+"3" give the same key)',
      ],
      [
        '{a}-{b}',
        'key template "{a}-{b}": {a} and {b} are separated only by "-", which values can also contain; use a delimiter such as ":" or "/" (otherwise distinct rows could share a key)',
      ],
    ];
    for (const [template, message] of cases) {
      it(JSON.stringify(template), () => {
        const error = compileError(template);
        expect(error.message).toBe(message);
        expect(error.message).not.toContain('\n');
      });
    }
  });

  it('refuses a key prefix with characters keys cannot hold', () => {
    expect(() => compileKeyTemplate('user:{id}', { keyPrefix: 'my app:' })).toThrow(
      'key template "my app:": " " at column 3 cannot be in a key prefix: keys cannot contain spaces; use letters, digits and ":"',
    );
  });
});

/** A small seeded generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'a',
  'Z',
  '0',
  '9',
  '-',
  '.',
  '_',
  '~',
  ':',
  '{',
  '}',
  '%',
  '%3A',
  '#',
  '@',
  ' ',
  '\t',
  '\n',
  '\r',
  '\0',
  '\x7f',
  'é',
  'e\u0301',
  '😀',
  '東',
  '\ud800',
  '\udc00',
  '\\',
  '/',
  'g1@',
  'user:',
];

function randomValue(next: () => number): string {
  const long = next() < 0.1;
  const length = long ? 100 + Math.floor(next() * 300) : Math.floor(next() * 8);
  let value = '';
  for (let i = 0; i < length; i++) value += PIECES[Math.floor(next() * PIECES.length)];
  return value;
}

describe('key rendering properties', () => {
  it('distinct rows give distinct keys; every Memcached key is <= 250 bytes of printable ASCII', () => {
    const next = random(20261125);
    const templates = [
      compileKeyTemplate('{tenant}:{id}'),
      compileKeyTemplate('user:{tenant}/{id}:x'),
      compileKeyTemplate('\\{{tenant}\\}{id}'),
    ];
    for (const template of templates) {
      const seen = new Map<string, string>();
      for (let i = 0; i < 4000; i++) {
        const row = { tenant: randomValue(next), id: randomValue(next) };
        const generation = next() < 0.2 ? Math.floor(next() * 5) : 0;
        const key = keyOf(template.render(row, { generation }));
        expect(Buffer.byteLength(key)).toBeLessThanOrEqual(250);
        expect(key).toMatch(MEMCACHED_SAFE);
        const input = JSON.stringify([row.tenant, row.id, generation]);
        const earlier = seen.get(key);
        if (earlier !== undefined && earlier !== input) {
          throw new Error(`${template.text}: ${earlier} and ${input} both render ${key}`);
        }
        seen.set(key, input);
      }
    }
  });

  it('encodeKeyValue is injective on random strings, including lone surrogates', () => {
    const next = random(7);
    const seen = new Map<string, string>();
    for (let i = 0; i < 20000; i++) {
      const value = randomValue(next);
      const encoded = encodeKeyValue(value);
      expect(encoded).toMatch(/^[A-Za-z0-9._~%-]*$/);
      const earlier = seen.get(encoded);
      if (earlier !== undefined && earlier !== value) throw new Error(`collision on ${encoded}`);
      seen.set(encoded, value);
    }
  });
});
