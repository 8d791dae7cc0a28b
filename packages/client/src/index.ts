export type {
  LeaseGuardedReaderOptions,
  ReadRequest,
  ReadResult,
  ReadSource,
} from './lease-guarded-reader.js';
export { LeaseGuardedReader } from './lease-guarded-reader.js';
export type { ValueMode } from './row-loader.js';
export { RowLoader } from './row-loader.js';
