// Re-exported for readers of this package; it lives in core so the read path shares it.
export { convertValue } from '@cdc-cache/core';
export { FlushTracker } from './flush-tracker.js';
export type { KnownRelation, SourceItem, ValueMode } from './pgoutput/change-assembler.js';
export { ChangeAssembler } from './pgoutput/change-assembler.js';
export { decodePgoutput } from './pgoutput/decode.js';
export type { ColumnValue, PgoutputMessage } from './pgoutput/messages.js';
export type { PostgresSourceOptions, SourceFrame } from './postgres-source.js';
export { PostgresSource } from './postgres-source.js';
export type { Queryable } from './queryable.js';
export type { StreamFrame } from './replication-stream.js';
export { ReplicationStream } from './replication-stream.js';
export type { SlotHealth } from './slot-health.js';
export { emitHeartbeat, HEARTBEAT_PREFIX, slotHealth } from './slot-health.js';
export { SlotLock } from './slot-lock.js';
export type { SnapshotProgress, SnapshotRunnerOptions } from './snapshot/snapshot-runner.js';
export {
  ensureSnapshotTable,
  requestInitialSnapshots,
  requestSnapshot,
  SnapshotRunner,
} from './snapshot/snapshot-runner.js';
export type { SnapshotChunk, Watermark } from './snapshot/watermarks.js';
export { WATERMARK_PREFIX, WatermarkCoordinator } from './snapshot/watermarks.js';
export type { SlotState, TableDescription } from './source-setup.js';
export {
  checkReplicaIdentity,
  describeTables,
  ensurePublication,
  ensureSlot,
  SourceError,
  splitTableName,
} from './source-setup.js';
