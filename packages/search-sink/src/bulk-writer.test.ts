import type { ChangeSource } from '@cdc-cache/core';
import { describe, expect, it } from 'vitest';
import { BulkWriter, type DocumentWrite, type WriteTargets } from './bulk-writer.js';
import { Elasticsearch, ElasticsearchError, type ElasticsearchResponse } from './elasticsearch.js';
import type { Generation, GenerationMeta } from './generations.js';

// Pure logic of the bulk writer, against a scripted Elasticsearch: what it retries, what it
// gives up, where it pauses. (Its behaviour against the real server is in test/search-indexer.)

type Answer = { items: { status: number; type?: string | undefined }[] } | ElasticsearchError;

class ScriptedElasticsearch extends Elasticsearch {
  readonly bodies: string[] = [];
  readonly times: number[] = [];
  constructor(private readonly answers: ((lines: string[]) => Answer)[]) {
    super({ node: 'http://scripted:9200' });
  }

  override async request<T>(
    _method: string,
    _path: string,
    _body?: unknown,
    options: { ndjson?: string } = {},
  ): Promise<ElasticsearchResponse<T>> {
    const ndjson = options.ndjson ?? '';
    this.bodies.push(ndjson);
    this.times.push(Date.now());
    const lines = ndjson.split('\n').filter((line, index) => line !== '' && index % 2 === 0);
    const allCreated = (all: string[]): Answer => ({ items: all.map(() => ({ status: 201 })) });
    const answer = (this.answers.shift() ?? allCreated)(lines);
    if (answer instanceof ElasticsearchError) throw answer;
    const items = answer.items.map(({ status, type }) => ({
      index: { status, ...(type ? { error: { type, reason: `scripted ${type}` } } : {}) },
    }));
    return { status: 200, body: { items } as T };
  }
}

function generation(name: string, floor = 0n): Generation {
  const meta: GenerationMeta = {
    index: 'items',
    table: 'public.items',
    floor: String(floor),
    kind: 'initial',
    createdAt: '',
  };
  return { name, writeAlias: `${name}--w`, floor, meta };
}

function targets(current: Generation, building: Generation[] = []): WriteTargets & { invalidated: number } {
  return {
    index: 'items',
    invalidated: 0,
    resolve: async () => ({ current, building }),
    invalidate() {
      this.invalidated++;
    },
  };
}

function source(commitLsn: string, lsn = commitLsn): ChangeSource {
  return {
    db: 'd',
    schema: 'public',
    table: 'items',
    lsn,
    commitLsn,
    txId: 1,
    commitTime: new Date().toISOString(),
    seq: 0,
  };
}

function write(to: WriteTargets, id: string, version: bigint, at = source('0/10')): DocumentWrite {
  return { generations: to, id, version, source: at, document: { name: id }, deleted: false };
}

const fast = {
  flushIntervalMs: 1,
  retryBaseMs: 5,
  retryCapMs: 20,
  unavailableBaseMs: 5,
  unavailableCapMs: 20,
};

describe('bulk writer', () => {
  it('writes with external_gte and the exact 64-bit version', async () => {
    const es = new ScriptedElasticsearch([]);
    const writer = new BulkWriter(es, fast);
    const result = await writer.write(
      write(targets(generation('items--g0')), 'a', 9_223_372_036_854_775_807n),
    );
    await writer.close();
    expect(result).toEqual({ result: 'indexed' });
    expect(es.bodies[0]).toContain(
      '{"index":{"_index":"items--g0--w","_id":"a","version":9223372036854775807,"version_type":"external_gte"}}',
    );
  });

  it('counts a version conflict as stale, not as a failure', async () => {
    const es = new ScriptedElasticsearch([
      () => ({ items: [{ status: 409, type: 'version_conflict_engine_exception' }] }),
    ]);
    const writer = new BulkWriter(es, { ...fast, maxAttempts: 1 });
    expect(await writer.write(write(targets(generation('g')), 'a', 5n))).toEqual({ result: 'skipped_stale' });
    await writer.close();
  });

  it('backs off on 429 without using up attempts', async () => {
    const throttled: number[] = [];
    const es = new ScriptedElasticsearch([
      () => ({ items: [{ status: 429, type: 'es_rejected_execution_exception' }] }),
      () => new ElasticsearchError('ES_ERROR', 'too many requests', 429),
    ]);
    const writer = new BulkWriter(es, {
      ...fast,
      maxAttempts: 1,
      observer: { throttled: (ms) => throttled.push(ms) },
    });
    expect(await writer.write(write(targets(generation('g')), 'a', 5n))).toEqual({ result: 'indexed' });
    await writer.close();
    expect(es.bodies).toHaveLength(3);
    expect(throttled).toHaveLength(2);
  });

  it('retries a refused document with backoff, then gives up with the reason', async () => {
    const refuse = () => ({ items: [{ status: 400, type: 'document_parsing_exception' }] });
    const retries: string[] = [];
    const es = new ScriptedElasticsearch([refuse, refuse, refuse]);
    const writer = new BulkWriter(es, {
      ...fast,
      maxAttempts: 3,
      observer: { retry: (reason) => retries.push(reason) },
    });
    const result = await writer.write(write(targets(generation('g')), 'a', 5n));
    await writer.close();
    expect(result).toMatchObject({ result: 'failed', attempts: 3 });
    expect(result.result === 'failed' && result.reason).toMatch(
      /document_parsing_exception.*after 3 attempts/,
    );
    expect(retries).toHaveLength(2);
    expect(es.times[2]! - es.times[1]!).toBeGreaterThanOrEqual(2);
  });

  it('keeps the writes while Elasticsearch does not answer, and reports when it is back', async () => {
    const down = () => new ElasticsearchError('ES_UNREACHABLE', 'Elasticsearch does not answer', 0);
    const availability: boolean[] = [];
    const es = new ScriptedElasticsearch([down, down, down, down]);
    const writer = new BulkWriter(es, {
      ...fast,
      maxAttempts: 1,
      observer: { available: (up) => availability.push(up) },
    });
    const results = await Promise.all(
      [1, 2, 3].map((n) => writer.write(write(targets(generation('g')), `d${n}`, 5n))),
    );
    await writer.close();
    expect(results.every((result) => result.result === 'indexed')).toBe(true);
    expect(availability).toEqual([false, true]);
  });

  it('writes to the building generation too, except below its floor', async () => {
    const es = new ScriptedElasticsearch([]);
    const writer = new BulkWriter(es, fast);
    const to = targets(generation('g1'), [generation('g2', 100n)]);
    expect(await writer.write(write(to, 'old', 50n))).toEqual({ result: 'indexed' });
    expect(await writer.write(write(to, 'new', 150n))).toEqual({ result: 'indexed' });
    await writer.close();
    const all = es.bodies.join('');
    expect(all).toContain('"_index":"g1--w","_id":"old"');
    expect(all).not.toContain('"_index":"g2--w","_id":"old"');
    expect(all).toContain('"_index":"g2--w","_id":"new"');
  });

  it('looks generations up again when a write target is gone', async () => {
    const es = new ScriptedElasticsearch([
      () => ({ items: [{ status: 404, type: 'index_not_found_exception' }] }),
    ]);
    const writer = new BulkWriter(es, { ...fast, maxAttempts: 1 });
    const to = targets(generation('g'));
    expect(await writer.write(write(to, 'a', 5n))).toEqual({ result: 'indexed' });
    await writer.close();
    expect(to.invalidated).toBeGreaterThan(0);
  });

  it('sends only the newest of several writes of one document in a bulk', async () => {
    const es = new ScriptedElasticsearch([]);
    const writer = new BulkWriter(es, { ...fast, flushIntervalMs: 50 });
    const to = targets(generation('g'));
    const results = await Promise.all([
      writer.write(write(to, 'a', 11n, source('0/20', '0/12'))),
      writer.write(write(to, 'a', 10n, source('0/20', '0/11'))),
      writer.write(write(to, 'b', 10n, source('0/20', '0/13'))),
    ]);
    await writer.close();
    expect(results.map((result) => result.result)).toEqual(['indexed', 'skipped_stale', 'indexed']);
    expect(es.bodies).toHaveLength(1);
    expect(es.bodies[0]!.split('\n').filter((line) => line.includes('"_id"'))).toHaveLength(2);
  });

  it('splits bulks that would be too large', async () => {
    const es = new ScriptedElasticsearch([]);
    const writer = new BulkWriter(es, { ...fast, flushIntervalMs: 30, maxBulkBytes: 10 });
    const to = targets(generation('g'));
    const results = await Promise.all(['a', 'b', 'c'].map((id) => writer.write(write(to, id, 5n))));
    await writer.close();
    expect(results.every((result) => result.result === 'indexed')).toBe(true);
    expect(es.bodies).toHaveLength(3);
  });
});
