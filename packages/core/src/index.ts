export type { ChangeEvent, ChangeOp, ChangeSource, RowImage } from './change-event.js';
export { canonicalJson, qualifiedTable } from './change-event.js';
export type { Lsn } from './lsn.js';
export { compareLsn, formatLsn, parseLsn } from './lsn.js';
