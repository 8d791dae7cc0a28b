import { type ChangeEvent, qualifiedTable } from '@cdc-cache/core';
import { backoffMs } from '@cdc-cache/runtime';
import { type BulkObserver, BulkWriter, type BulkWriterOptions, type WriteResult } from './bulk-writer.js';
import { type DocumentChange, DocumentShaper, type IndexSpec } from './documents.js';
import { type Elasticsearch, ElasticsearchError } from './elasticsearch.js';
import { IndexGenerations } from './generations.js';
import { type ColumnType, indexMappings, type ValueMode } from './mappings.js';
import { type RowSource, RowSourceError } from './postgres.js';
import { documentVersion } from './version.js';

/** The outcome of one change event, over every index of its table. */
export type EventOutcome = { status: 'applied' } | { status: 'failed'; reason: string };

/** Metric updates the sink makes (the metrics package's search metrics fit). */
export interface SearchSinkMetrics {
  documents: { inc(labels: { index: string; result: string }, value?: number): void };
  bulkSeconds: { observe(value: number): void };
  /** Seconds from commit to indexed, observed per document indexed or deleted. */
  endToEnd?: { observe(labels: { sink: string }, value: number): void };
  retries?: { inc(labels: { sink: string }, value?: number): void };
  sinkUp?: { set(labels: { sink: string }, value: number): void };
}

/** The log calls the sink makes (pino's shape). */
export interface SinkLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface SearchSinkOptions extends Omit<BulkWriterOptions, 'observer'> {
  es: Elasticsearch;
  indexes: IndexSpec[];
  valueMode: ValueMode;
  /** The source database: unchanged TOAST values and column types. Without it, such updates fail. */
  rows?: RowSource;
  metrics?: SearchSinkMetrics;
  log?: SinkLog;
  /** How long resolved generations are reused (default 1 s); a rebuild waits longer than this. */
  generationCacheTtlMs?: number;
  /** Settings of new generations (default: 1 shard, 0 replicas on a single node is up to you). */
  indexSettings?: Record<string, unknown>;
}

interface IndexState {
  spec: IndexSpec;
  shaper: DocumentShaper;
  generations: IndexGenerations;
  columnTypes: Map<string, ColumnType>;
}

/**
 * Applies change events to Elasticsearch: each row change becomes a versioned write of its
 * document (or tombstone) in every index of its table; a truncate moves each index to an empty
 * generation. Unchanged TOAST columns are re-read from the source, never written as null.
 */
export class SearchSink {
  private readonly byTable = new Map<string, IndexState[]>();
  private readonly writer: BulkWriter;
  private closed = false;

  constructor(private readonly options: SearchSinkOptions) {
    const metrics = options.metrics;
    const observer: BulkObserver = {
      bulk: (seconds) => metrics?.bulkSeconds.observe(seconds),
      retry: () => metrics?.retries?.inc({ sink: 'elasticsearch' }),
      available: (up, problem) => {
        metrics?.sinkUp?.set({ sink: 'elasticsearch' }, up ? 1 : 0);
        if (up) options.log?.info({ node: options.es.node }, 'Elasticsearch answers again');
        else options.log?.error({ node: options.es.node }, problem ?? 'Elasticsearch does not answer');
      },
      throttled: (delayMs) =>
        options.log?.warn({ delayMs }, 'Elasticsearch pushes back (429): sending paused'),
    };
    this.writer = new BulkWriter(options.es, { ...options, observer });
    for (const spec of options.indexes) {
      const state: IndexState = {
        spec,
        shaper: new DocumentShaper(spec),
        columnTypes: new Map(),
        generations: new IndexGenerations(options.es, {
          index: spec.index,
          table: spec.table,
          mappings: () =>
            indexMappings({
              fields: spec.fields,
              explicit: spec.mappings,
              columnTypes: state.columnTypes,
              valueMode: options.valueMode,
            }),
          settings: options.indexSettings,
          cacheTtlMs: options.generationCacheTtlMs,
        }),
      };
      const list = this.byTable.get(spec.table) ?? [];
      list.push(state);
      this.byTable.set(spec.table, list);
    }
  }

  /** Tables (schema.table) with at least one index. */
  get tables(): string[] {
    return [...this.byTable.keys()];
  }

  /** The generations of every index, for the rebuild supervisor. */
  get indexes(): { spec: IndexSpec; generations: IndexGenerations }[] {
    return [...this.byTable.values()].flat().map(({ spec, generations }) => ({ spec, generations }));
  }

  /** Whether the last bulk got an answer (null before the first). */
  get available(): boolean | null {
    return this.writer.available;
  }

  /**
   * Creates every index that does not exist yet (reading column types for default mappings).
   * Throws an ElasticsearchError when Elasticsearch does not answer, a GenerationError when an
   * index name is taken by something else.
   */
  async start(): Promise<void> {
    for (const states of this.byTable.values()) {
      for (const state of states) {
        if (this.options.rows) {
          try {
            state.columnTypes = await this.options.rows.columnTypes(state.spec.table);
          } catch (error) {
            // PostgreSQL down: wait for it (the caller retries) rather than create worse mappings.
            if (error instanceof RowSourceError && error.transient) throw error;
            this.options.log?.warn(
              { table: state.spec.table, err: error },
              'column types unknown: new generations map unconfigured fields as text',
            );
          }
        }
        await state.generations.ensure();
      }
    }
    this.options.metrics?.sinkUp?.set({ sink: 'elasticsearch' }, 1);
  }

  /**
   * Applies the events of one partition, in order. Resolves when every write is confirmed
   * (written, or skipped as stale) or given up (the outcome says why); rejects only when the
   * sink closes, so that nothing is committed that was not done.
   */
  async apply(events: ChangeEvent[]): Promise<EventOutcome[]> {
    const outcomes: EventOutcome[] = events.map(() => ({ status: 'applied' }));
    let segment: number[] = [];
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!;
      if (!this.byTable.has(qualifiedTable(event.source))) continue;
      if (event.op === 't') {
        // A truncate is a barrier: what comes before it is done first.
        await this.applyRows(events, segment, outcomes);
        segment = [];
        await this.truncate(event);
      } else {
        segment.push(index);
      }
    }
    await this.applyRows(events, segment, outcomes);
    return outcomes;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writer.close();
  }

  private async applyRows(
    events: ChangeEvent[],
    positions: number[],
    outcomes: EventOutcome[],
  ): Promise<void> {
    const work: Promise<void>[] = [];
    for (const position of positions) {
      const event = events[position]!;
      const version = documentVersion(event.source);
      for (const state of this.byTable.get(qualifiedTable(event.source)) ?? []) {
        for (const change of state.shaper.changesFor(event)) {
          work.push(
            this.applyChange(state, event, version, change).then((result) => {
              if (result.result === 'failed') {
                const reason = `${state.spec.index}: ${result.reason}`;
                const previous = outcomes[position]!;
                outcomes[position] = {
                  status: 'failed',
                  reason: previous.status === 'failed' ? `${previous.reason}; ${reason}` : reason,
                };
              }
            }),
          );
        }
      }
    }
    await Promise.all(work);
  }

  private async applyChange(
    state: IndexState,
    event: ChangeEvent,
    version: bigint,
    change: DocumentChange,
  ): Promise<WriteResult> {
    const index = state.spec.index;
    const count = (result: string) => this.options.metrics?.documents.inc({ index, result });
    if (change.kind === 'invalid') {
      count('failed');
      return { result: 'failed', reason: change.reason, attempts: 0 };
    }
    let document = change.document;
    if (change.kind === 'upsert' && change.missing.length > 0) {
      const filled = await this.fillUnchangedToast(state, event, change.missing);
      if (filled.kind === 'failed') {
        count('failed');
        return { result: 'failed', reason: filled.reason, attempts: 0 };
      }
      if (filled.kind === 'gone') {
        // The row was deleted since: its delete comes later in the same partition.
        count('skipped_stale');
        return { result: 'skipped_stale' };
      }
      document = { ...document, ...filled.values };
    }
    const result = await this.writer.write({
      generations: state.generations,
      id: change.id,
      version,
      source: event.source,
      document,
      deleted: change.kind === 'delete',
    });
    count(result.result);
    if (result.result === 'indexed' || result.result === 'deleted') {
      const seconds = (Date.now() - Date.parse(event.source.commitTime)) / 1000;
      if (Number.isFinite(seconds)) {
        this.options.metrics?.endToEnd?.observe({ sink: 'elasticsearch' }, Math.max(0, seconds));
      }
    }
    return result;
  }

  /**
   * The current values of unchanged TOAST columns, from the source. The row may be newer than
   * the event: its later changes follow with higher versions, so the document still converges.
   */
  private async fillUnchangedToast(
    state: IndexState,
    event: ChangeEvent,
    columns: string[],
  ): Promise<
    | { kind: 'filled'; values: Record<string, unknown> }
    | { kind: 'gone' }
    | { kind: 'failed'; reason: string }
  > {
    const rows = this.options.rows;
    if (!rows) {
      return {
        kind: 'failed',
        reason: `unchanged TOAST columns ${columns.join(', ')} and no source database to read them from`,
      };
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const row = await rows.readColumns(state.spec.table, event.key ?? {}, columns);
        return row === null ? { kind: 'gone' } : { kind: 'filled', values: row };
      } catch (error) {
        if (!(error instanceof RowSourceError) || !error.transient) {
          return { kind: 'failed', reason: error instanceof Error ? error.message : String(error) };
        }
        if (this.closed) throw error;
        const delay = backoffMs(attempt, 250, 15_000);
        if (attempt === 0 || attempt % 10 === 0) {
          this.options.log?.error({ table: state.spec.table, retryInMs: delay }, error.message);
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async truncate(event: ChangeEvent): Promise<void> {
    const version = documentVersion(event.source);
    for (const state of this.byTable.get(qualifiedTable(event.source)) ?? []) {
      for (let attempt = 0; ; attempt++) {
        try {
          const result = await state.generations.truncate(version);
          if (result === 'applied') {
            this.options.log?.info(
              { index: state.spec.index, commitLsn: event.source.commitLsn },
              'truncate: index moved to an empty generation',
            );
          }
          break;
        } catch (error) {
          if (this.closed) throw error;
          if (!(error instanceof ElasticsearchError)) throw error;
          const delay = backoffMs(attempt, 250, 15_000);
          this.options.log?.error({ index: state.spec.index, retryInMs: delay }, error.message);
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    }
  }
}
