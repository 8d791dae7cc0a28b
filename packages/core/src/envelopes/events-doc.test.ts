/**
 * docs/events.md cannot drift from the code: every ```json block in it is an example that must
 * decode, and encoding the decoded event must give the example back.
 *
 * A block's kind is set by a comment on the line before it, `<!-- example: KIND -->`:
 * `cdc` (a cdc v1 value; the default for ```json blocks), `cdc-key`, `debezium` (a Debezium
 * value, decoded with the `debezium-key` block before it), `debezium-key`, or `none` (JSON that
 * is no message). Keys are ```text blocks with a marker: they are exact bytes, which the
 * formatter must not respace.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../change-event.js';
import * as cdcV1 from './cdc-v1/index.js';
import * as debezium from './debezium/index.js';

const KINDS = ['cdc', 'cdc-key', 'debezium', 'debezium-key', 'none'] as const;
type Kind = (typeof KINDS)[number];

interface Example {
  kind: Kind;
  line: number;
  text: string;
  /** For a Debezium value: the text of the key block before it. */
  key: string | null;
}

const docPath = new URL('../../../../docs/events.md', import.meta.url);

function examples(markdown: string): Example[] {
  const lines = markdown.split('\n');
  const found: Example[] = [];
  let debeziumKey: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```(\S*)\s*$/.exec(lines[i] ?? '');
    if (!fence) continue;
    const language = fence[2];
    const start = i;
    let end = i + 1;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end] ?? '')) end++;
    i = end;
    const marker = /^<!-- example: (\S+) -->$/.exec((lines[start - 1] ?? '').trim());
    if (language !== 'json' && !marker) continue;
    const kind = (marker?.[1] ?? 'cdc') as Kind;
    if (!KINDS.includes(kind)) throw new Error(`docs/events.md:${start}: unknown example kind "${kind}"`);
    const text = lines.slice(start + 1, end).join('\n');
    if (kind === 'debezium-key') debeziumKey = text;
    found.push({ kind, line: start + 2, text, key: kind === 'debezium' ? debeziumKey : null });
  }
  return found;
}

const all = examples(readFileSync(docPath, 'utf8'));
const of = (kind: Kind): [string, Example][] =>
  all.filter((example) => example.kind === kind).map((example) => [`line ${example.line}`, example]);

describe('docs/events.md', () => {
  it('shows a cdc value for every op, and Debezium values for c, u, d and t', () => {
    const cdcOps = new Set(of('cdc').map(([, example]) => (JSON.parse(example.text) as { op: string }).op));
    expect([...cdcOps].sort()).toEqual(['c', 'd', 'r', 't', 'u']);
    const debeziumOps = new Set(
      of('debezium').map(([, example]) => (JSON.parse(example.text) as { op: string }).op),
    );
    expect([...debeziumOps].sort()).toEqual(['c', 'd', 't', 'u']);
    expect(of('cdc-key').length).toBeGreaterThan(0);
  });

  describe.each(of('cdc'))('cdc value at %s', (_where, example) => {
    it('decodes with the cdc v1 decoder and is exactly what the encoder writes', () => {
      const event = cdcV1.decode(example.text);
      expect(JSON.parse(cdcV1.encodeValue(event).toString('utf8'))).toEqual(JSON.parse(example.text));
    });
  });

  describe.each(of('cdc-key'))('cdc key at %s', (_where, example) => {
    it('is canonical JSON of a primary key, or null', () => {
      expect(example.text).toBe(canonicalJson(JSON.parse(example.text)));
      const key = cdcV1.decodeKey(example.text);
      if (key !== null) expect(cdcV1.encodeKey({ key }).toString('utf8')).toBe(example.text);
    });
  });

  describe.each(of('debezium'))('Debezium value at %s', (_where, example) => {
    it('decodes with the Debezium decoder (with the key before it) and is exactly what the encoder writes', () => {
      const value = JSON.parse(example.text) as {
        op: string;
        ts_ms: number;
        source: { name: string; version: string };
        transaction: { data_collection_order: number } | null;
      };
      const event = debezium.decode(example.text, example.key);
      if (event === null) throw new Error('a documented value decoded as a tombstone');
      const messages = debezium.encode(event, {
        serverName: value.source.name,
        sourceVersion: value.source.version,
        processedAtMs: value.ts_ms,
        ...(value.transaction ? { dataCollectionOrder: value.transaction.data_collection_order } : {}),
      });
      const message = messages.find((candidate) => candidate.value !== null);
      expect(JSON.parse(message?.value?.toString('utf8') ?? 'null')).toEqual(value);
      expect(message?.key === null ? 'null' : message?.key.toString('utf8')).toBe(example.key);
    });
  });

  describe.each(of('debezium-key'))('Debezium key at %s', (_where, example) => {
    it('decodes as a Debezium key', () => {
      const key = debezium.decodeKey(example.text);
      expect(debezium.encodeKey(key)?.toString('utf8') ?? 'null').toBe(example.text);
    });
  });

  it('marks every example it cannot check as "none" on purpose', () => {
    for (const [, example] of of('none')) expect(() => JSON.parse(example.text)).not.toThrow();
  });
});
