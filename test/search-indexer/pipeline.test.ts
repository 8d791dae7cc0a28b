import { freshSlate, readTopics, type ServiceProcess, type Slate } from '@cdc-cache/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents, startWorker, waitStreaming } from '../cdc-worker/worker-harness.js';
import {
  es,
  eventually,
  generationsOf,
  pipelineConfig,
  startIndexer,
  stopService,
  visibleRows,
  waitConsuming,
} from './search-harness.js';

// PostgreSQL -> cdc-worker -> Kafka -> search-indexer -> Elasticsearch, as real processes.

let slate: Slate;
let worker: ServiceProcess | undefined;
let indexer: ServiceProcess | undefined;
let index: string;
let codes: string;

const BIG = 'toasted '.repeat(2_500); // 20 kB, stored out of line

beforeAll(async () => {
  slate = await freshSlate('search_pipeline');
  index = `${slate.indexPrefix}products`;
  await slate.db.query(
    'CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, description text, price numeric(10,2))',
  );
  await slate.db.query('CREATE TABLE codes (id int PRIMARY KEY, code text NOT NULL)');
  codes = `${slate.indexPrefix}codes`;
  // Out of line and uncompressed: a large value is TOASTed for sure.
  await slate.db.query('ALTER TABLE products ALTER description SET STORAGE EXTERNAL');
  const config = pipelineConfig(
    slate,
    ['public.products', 'public.codes'],
    [
      // A mapping that refuses some values: those writes are retried, then dead-lettered.
      { table: 'public.codes', index: codes, fields: ['code'], mappings: { code: { type: 'long' } } },
      {
        table: 'public.products',
        index,
        fields: ['name', 'description', 'price'],
        mappings: { name: { type: 'text', fields: { raw: { type: 'keyword' } } } },
      },
    ],
  );
  worker = await startWorker(config);
  indexer = await startIndexer(config);
  await Promise.all([waitStreaming(worker), waitConsuming(indexer)]);
});

afterAll(async () => {
  await stopService(indexer);
  await stopService(worker);
  await slate?.dispose();
});

async function search(query: object): Promise<string[]> {
  await es('POST', `/${index}/_refresh`);
  const result = await es<{ hits: { hits: { _id: string }[] } }>('POST', `/${index}/_search`, {
    size: 100,
    query,
  });
  return result.hits.hits.map((hit) => hit._id).sort();
}

describe('search-indexer end to end', () => {
  it('inserts, updates and deletes in PostgreSQL show up in search results', async () => {
    await slate.db.query(
      `INSERT INTO products SELECT g, 'product ' || g, 'a plain description of ' || g, g * 1.5 FROM generate_series(1, 60) g`,
    );
    await slate.db.query(`UPDATE products SET name = 'shiny lamp ' || id WHERE id <= 10`);
    await slate.db.query('DELETE FROM products WHERE id > 50');

    await eventually(async () => {
      const rows = await visibleRows(index);
      return rows.size === 50 && rows.get('{"id":"1"}')?.name === 'shiny lamp 1';
    }, 'the index to show 50 products with the update');
    const rows = await visibleRows(index);
    expect(rows.get('{"id":"42"}')).toEqual({
      name: 'product 42',
      description: 'a plain description of 42',
      price: '63.00',
    });
    expect(rows.has('{"id":"51"}')).toBe(false);
    // Real searches: full text on the name, an exact term on its keyword, a range on the price.
    expect(await search({ match: { name: 'lamp' } })).toHaveLength(10);
    expect(await search({ term: { 'name.raw': 'shiny lamp 3' } })).toEqual(['{"id":"3"}']);
    expect(await search({ range: { price: { gte: 70 } } })).toHaveLength(4); // 47..50 × 1.5
  });

  it('a big text field survives an update that does not touch it (unchanged TOAST)', async () => {
    await slate.db.query('INSERT INTO products VALUES (100, $1, $2, 10)', ['toast lamp', BIG]);
    await eventually(
      async () => (await visibleRows(index)).get('{"id":"100"}')?.description === BIG,
      'the big row to be indexed',
    );
    // pgoutput sends only a marker for the unchanged description.
    await slate.db.query('UPDATE products SET price = 12.50 WHERE id = 100');
    await eventually(
      async () => (await visibleRows(index)).get('{"id":"100"}')?.price === '12.50',
      'the price update to be indexed',
    );
    // The event really did leave the description out (so the indexer had to re-read it).
    const events = await readEvents([`${slate.topicPrefix}.public.products`], (seen) =>
      seen.some((message) => message.event.key?.id === '100' && message.event.op === 'u'),
    );
    const update = events.find((message) => message.event.key?.id === '100' && message.event.op === 'u')!;
    expect(update.event.unchangedToast).toEqual(['description']);
    expect(update.event.after).not.toHaveProperty('description');
    const document = (await visibleRows(index)).get('{"id":"100"}');
    expect(document?.description).toBe(BIG);
    expect(document?.name).toBe('toast lamp');
  });

  it('TRUNCATE empties the index, and rows inserted afterwards are found', async () => {
    const [before] = await generationsOf(index);
    await slate.db.query('TRUNCATE products');
    await slate.db.query(`INSERT INTO products VALUES (7, 'after the truncate', 'fresh', 1)`);
    await eventually(async () => {
      const rows = await visibleRows(index);
      return rows.size === 1 && rows.has('{"id":"7"}');
    }, 'the index to hold only the row inserted after the truncate');
    const after = await generationsOf(index);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
    expect(await search({ match: { name: 'truncate' } })).toEqual(['{"id":"7"}']);
  });

  it('a document Elasticsearch refuses is retried, then dead-lettered with the reason; the rest goes on', async () => {
    await slate.db.query(`INSERT INTO codes VALUES (1, '42'), (2, 'not a number'), (3, '7')`);
    await eventually(async () => (await visibleRows(codes)).size === 2, 'the two valid codes indexed');
    const dlq = `${slate.topicPrefix}.dlq.search-indexer`;
    const [letter] = await readTopics([dlq], (messages) => messages.length >= 1, 30_000);
    expect(letter?.key).toBe('{"id":"2"}');
    expect(JSON.parse(letter!.value!)).toMatchObject({ op: 'c', after: { id: '2', code: 'not a number' } });
    expect(letter?.headers).toMatchObject({
      'cdc-cache.dlq.reason': 'rejected',
      'cdc-cache.dlq.service': 'search-indexer',
      'cdc-cache.dlq.topic': `${slate.topicPrefix}.public.codes`,
    });
    expect(letter?.headers['cdc-cache.dlq.error']).toMatch(
      /document_parsing_exception|mapper_parsing_exception/,
    );
    expect(letter?.headers['cdc-cache.dlq.error']).toMatch(/after 5 attempts/);
    const line = await indexer!.waitForLog((entry) => entry.msg === 'serving /metrics, /healthz, /readyz');
    const metrics = await (await fetch(`http://127.0.0.1:${line.port}/metrics`)).text();
    expect(metrics).toMatch(/cdc_cache_dead_letters_total\{[^}]*reason="rejected"[^}]*\} 1/);
    expect(metrics).toMatch(
      new RegExp(`cdc_cache_search_documents_total\\{index="${codes}",result="failed"[^}]*\\} 1`),
    );
  });

  it('serves /metrics with documents per index and the end-to-end latency', async () => {
    const line = await indexer!.waitForLog((entry) => entry.msg === 'serving /metrics, /healthz, /readyz');
    const base = `http://127.0.0.1:${line.port}`;
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const sample = (name: string, ...labels: string[]) =>
      metrics
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`) && labels.every((label) => line.includes(label)))
        .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
    expect(
      sample('cdc_cache_search_documents_total', `index="${index}"`, 'result="indexed"')[0],
    ).toBeGreaterThan(50);
    expect(
      sample('cdc_cache_search_documents_total', `index="${index}"`, 'result="deleted"')[0],
    ).toBeGreaterThan(0);
    expect(sample('cdc_cache_end_to_end_seconds_count', 'sink="elasticsearch"')[0]).toBeGreaterThan(0);
    expect(metrics).toMatch(/cdc_cache_search_bulk_seconds_count/);
    expect(metrics).toMatch(/cdc_cache_consumer_lag_messages\{group=/);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('drains on SIGTERM and exits 0', async () => {
    indexer!.kill('SIGTERM');
    expect(await indexer!.exited).toBe(0);
    expect(indexer!.logs.some((line) => line.msg === 'drained; exiting')).toBe(true);
  });
});
