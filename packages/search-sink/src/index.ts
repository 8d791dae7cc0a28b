export type {
  BulkObserver,
  BulkWriterOptions,
  DocumentWrite,
  WriteResult,
  WriteTargets,
} from './bulk-writer.js';
export { BulkWriter, SinkClosedError } from './bulk-writer.js';
export type { DocumentChange, IndexSpec } from './documents.js';
export { DocumentIdError, DocumentShaper } from './documents.js';
export type {
  ElasticsearchConnection,
  ElasticsearchErrorCode,
  ElasticsearchResponse,
} from './elasticsearch.js';
export { Elasticsearch, ElasticsearchError } from './elasticsearch.js';
export type { Generation, GenerationMeta, GenerationsOptions, Targets } from './generations.js';
export { GenerationError, generationNames, IndexGenerations, MAX_INDEX_NAME } from './generations.js';
export type { ColumnType, FieldMapping, IndexMappingInput, ValueMode } from './mappings.js';
export { defaultFieldMapping, indexMappings, LIVE_DOCUMENTS_FILTER, META_FIELD } from './mappings.js';
export type { RowSource, SnapshotRequest, SnapshotRequests, SnapshotStatus } from './postgres.js';
export {
  createSourcePool,
  PostgresRowSource,
  PostgresSnapshotRequests,
  RowSourceError,
} from './postgres.js';
export type { ConsumerProgress, RebuildSupervisorOptions } from './rebuild-supervisor.js';
export { RebuildSupervisor } from './rebuild-supervisor.js';
export type { IndexerMetrics, IndexerState, SearchIndexerOptions } from './search-indexer.js';
export { DLQ_HEADERS, SearchIndexer } from './search-indexer.js';
export type { EventOutcome, SearchSinkMetrics, SearchSinkOptions, SinkLog } from './search-sink.js';
export { SearchSink } from './search-sink.js';
export {
  compareChanges,
  documentVersion,
  MAX_SEQ,
  MAX_VERSION,
  MAX_VERSION_LSN,
  VersionRangeError,
  versionAtLsn,
} from './version.js';
