import type { ChangeEvent, RowImage } from '@cdc-cache/core';
import { convertValue } from '@cdc-cache/pg-source';
import {
  createSourcePool,
  Elasticsearch,
  type IndexSpec,
  PostgresRowSource,
  SearchSink,
  type SearchSinkOptions,
} from '@cdc-cache/search-sink';
import {
  type ServiceProcess,
  type Slate,
  stackAddresses,
  startService,
  writeConfig,
} from '@cdc-cache/testkit';
import type pg from 'pg';
import { stopWorker, workerConfig } from '../cdc-worker/worker-harness.js';

export const ES_URL = stackAddresses.elasticsearch.url;

export async function es<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${ES_URL}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 500)}`);
  return (text === '' ? null : JSON.parse(text)) as T;
}

/** Every document visible through an index's alias (tombstones are hidden), after a refresh. */
export async function searchAll(index: string): Promise<Map<string, Record<string, unknown>>> {
  await es('POST', `/${index}/_refresh`);
  const result = await es<{ hits: { hits: { _id: string; _source: Record<string, unknown> }[] } }>(
    'POST',
    `/${index}/_search`,
    { size: 10_000, query: { match_all: {} }, sort: ['_doc'] },
  );
  return new Map(result.hits.hits.map((hit) => [hit._id, hit._source]));
}

/** The documents' configured fields (without the indexer's `_cdc`), by id. */
export async function visibleRows(index: string): Promise<Map<string, Record<string, unknown>>> {
  const rows = new Map<string, Record<string, unknown>>();
  for (const [id, source] of await searchAll(index)) {
    const { _cdc: _meta, ...fields } = source;
    rows.set(id, fields);
  }
  return rows;
}

/** The real indexes behind an alias. */
export async function generationsOf(index: string): Promise<string[]> {
  const aliases = await es<Record<string, unknown>>('GET', `/_alias/${index}`);
  return Object.keys(aliases);
}

/** A sink on the shared Elasticsearch, reading TOAST values from the slate's database. */
export function createTestSink(
  slate: Slate,
  indexes: IndexSpec[],
  options: Partial<SearchSinkOptions> = {},
): { sink: SearchSink; pool: pg.Pool } {
  const pool = createSourcePool(slate.pgUrl);
  const sink = new SearchSink({
    es: new Elasticsearch({ node: ES_URL }),
    indexes,
    valueMode: 'text',
    rows: new PostgresRowSource(pool, (text, oid) => convertValue(text, oid, 'text')),
    flushIntervalMs: 5,
    ...options,
  });
  return { sink, pool };
}

/** A change event of public.<table>, as the cdc-worker writes it. */
export function change(
  table: string,
  op: ChangeEvent['op'],
  at: { commitLsn: bigint; lsn: bigint; seq: number },
  key: RowImage | null,
  after: RowImage | null,
  extra: Partial<ChangeEvent> = {},
): ChangeEvent {
  const lsn = (value: bigint) =>
    `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
  return {
    op,
    source: {
      db: 'test',
      schema: 'public',
      table,
      lsn: lsn(at.lsn),
      commitLsn: lsn(at.commitLsn),
      txId: op === 'r' ? null : Number(at.commitLsn % 1_000_000n),
      commitTime: new Date().toISOString(),
      seq: at.seq,
    },
    key,
    before: op === 'd' ? key : null,
    after,
    unchangedToast: [],
    ...extra,
  };
}

/** One config for the cdc-worker and the search-indexer of a slate. */
export function pipelineConfig(
  slate: Slate,
  tables: string[],
  indexes: { table: string; index: string; fields: string[]; id?: string; mappings?: object }[],
  options: { elasticsearchUrl?: string; overrides?: Record<string, unknown> } = {},
) {
  const base = workerConfig(slate, tables, options.overrides ?? {});
  return {
    ...base,
    search: { elasticsearch: { node: options.elasticsearchUrl ?? ES_URL }, indexes },
    services: {
      cdcWorker: { port: 0 },
      searchIndexer: { port: 0, groupId: `${slate.id}-search` },
    },
  };
}

export async function startIndexer(config: object): Promise<ServiceProcess> {
  const path = await writeConfig(config);
  return startService('search-indexer', path);
}

export function waitConsuming(indexer: ServiceProcess, timeoutMs = 60_000) {
  return indexer.waitForLog((line) => line.msg === 'consuming', timeoutMs);
}

export const stopService = stopWorker;

/** Polls until check() returns true (for conditions the index reaches on its own time). */
export async function eventually(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 45_000,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      if (await check()) return;
      lastError = null;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
