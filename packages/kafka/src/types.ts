/**
 * The small interface the rest of cdc-cache uses for Kafka. Producers are idempotent with
 * acks=all: a send resolves only when every record is acknowledged by all in-sync replicas.
 */

export interface ProducerRecord {
  topic: string;
  /** Explicit partition (truncates go to every partition); otherwise chosen from the key. */
  partition?: number;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, string>;
}

export interface Producer {
  connect(): Promise<void>;
  /**
   * Sends records, in order per partition. Resolves when all are acknowledged (acks=all);
   * rejects if any is not. Calls may overlap: order is kept across calls too.
   */
  send(records: ProducerRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface TopicAdmin {
  connect(): Promise<void>;
  /** Creates the topics that do not exist, with this many partitions (replication factor from the cluster). */
  ensureTopics(topics: string[], partitions: number): Promise<void>;
  /** Partition count of each topic (the topic must exist). */
  partitionCounts(topics: string[]): Promise<Map<string, number>>;
  /** Every topic whose name starts with prefix. */
  listTopics(prefix?: string): Promise<string[]>;
  deleteTopics(topics: string[]): Promise<void>;
  /** Committed offsets vs end offsets: lag per partition for a consumer group. */
  consumerLag(
    groupId: string,
    topics: string[],
  ): Promise<{ topic: string; partition: number; lag: number }[]>;
  disconnect(): Promise<void>;
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}

export interface ConsumerBatch {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
}

export interface Consumer {
  connect(): Promise<void>;
  subscribe(topics: string[] | RegExp, options?: { fromBeginning?: boolean }): Promise<void>;
  /**
   * Runs the handler for each batch (one partition's messages, in order). Offsets are
   * committed only by commit(), never automatically.
   */
  run(handler: (batch: ConsumerBatch) => Promise<void>): Promise<void>;
  /** Commits the offset after `offset` for a partition: that message is done. */
  commit(topic: string, partition: number, offset: string): Promise<void>;
  disconnect(): Promise<void>;
}

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
}
