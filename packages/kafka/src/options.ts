/** Options of the factories, the same for every client adapter. */

export interface ProducerOptions {
  /**
   * Upper bound of one produce request, in bytes of records. Overlapping sends are coalesced
   * into requests up to this size; it must stay below the broker's `message.max.bytes`
   * (1 MiB by default), which bounds one partition's batch.
   */
  maxRequestBytes?: number;
}

export interface ConsumerOptions {
  groupId: string;
  /** Most messages in one batch handed to the handler (default 1000). */
  maxBatchSize?: number;
  /** Session timeout of the group membership (default 30 s). */
  sessionTimeoutMs?: number;
  /** Longest a fetch waits on the broker for new messages (default 500 ms). */
  maxWaitTimeMs?: number;
  /**
   * Called once when consumption stops on its own: the handler threw (nothing after that
   * batch is handled or committed) or the client gave up. Reconnect to resume from the last
   * committed offsets. Default: print the error to stderr.
   */
  onError?: (error: unknown) => void;
}

export const defaults = {
  maxRequestBytes: 900_000,
  maxBatchSize: 1000,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  maxWaitTimeMs: 500,
  maxBytes: 10 * 1024 * 1024,
  maxBytesPerPartition: 1024 * 1024,
  /** Messages buffered (fetched, not yet handled) before fetching pauses. */
  maxBuffered: 20_000,
} as const;

export function reportToStderr(error: unknown): void {
  process.stderr.write(`kafka consumer stopped: ${error instanceof Error ? error.message : String(error)}\n`);
}
