import type { Lsn } from '@cdc-cache/core';
import {
  ChangeAssembler,
  type KnownRelation,
  type SourceItem,
  type ValueMode,
} from './pgoutput/change-assembler.js';
import { ReplicationStream } from './replication-stream.js';
import type { TableDescription } from './source-setup.js';

export type SourceFrame = SourceItem | { kind: 'keepalive'; walEnd: Lsn };

export interface PostgresSourceOptions {
  connectionString: string;
  database: string;
  slot: string;
  publication: string;
  /** The configured tables, described at start (their key columns come from here). */
  tables: TableDescription[];
  valueMode?: ValueMode;
  statusIntervalMs?: number;
}

/**
 * Change events from one logical slot, in WAL order: pgoutput frames decoded and assembled
 * into events, relations keyed by the primary key (or configured key columns) of each table.
 * Knows nothing of where events go: the owner calls confirm() once they are durable.
 */
export class PostgresSource implements AsyncIterable<SourceFrame> {
  private readonly stream: ReplicationStream;
  private readonly assembler: ChangeAssembler;
  private readonly tablesByName: Map<string, TableDescription>;

  constructor(options: PostgresSourceOptions) {
    this.stream = new ReplicationStream({
      connectionString: options.connectionString,
      slot: options.slot,
      publication: options.publication,
      statusIntervalMs: options.statusIntervalMs,
    });
    this.assembler = new ChangeAssembler(options.database, options.valueMode ?? 'text');
    this.tablesByName = new Map(options.tables.map((table) => [table.name, table]));
  }

  start(): Promise<void> {
    return this.stream.start();
  }

  confirm(lsn: Lsn): void {
    this.stream.confirm(lsn);
  }

  get confirmedLsn(): Lsn {
    return this.stream.confirmedLsn;
  }

  get receivedLsn(): Lsn {
    return this.stream.receivedLsn;
  }

  /** Ends the iteration (frames not yet consumed are dropped: they are replayed next time). */
  endIteration(): void {
    this.stream.endIteration();
  }

  stop(): Promise<void> {
    return this.stream.stop();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SourceFrame> {
    for await (const frame of this.stream) {
      if (frame.kind === 'keepalive') {
        yield frame;
        continue;
      }
      const { message, lsn } = frame;
      if (message.tag === 'relation') {
        const name = `${message.schema}.${message.table}`;
        const known = this.tablesByName.get(name);
        if (!known) throw new Error(`pgoutput: relation ${name} is in the publication but not in the config`);
        // The key columns come from the catalog (REPLICA IDENTITY FULL flags every column).
        const relation: KnownRelation = { ...message, keyColumns: known.keyColumns };
        yield this.assembler.addRelation(relation);
        continue;
      }
      for (const item of this.assembler.accept(message, lsn)) yield item;
    }
  }
}
