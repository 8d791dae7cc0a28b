export type { CdcWorkerOptions, WorkerGauges, WorkerLog, WorkerState } from './cdc-worker.js';
export { CdcWorker } from './cdc-worker.js';
export type { ConfirmTarget, EventEncoder, ReplicatorObserver, ReplicatorOptions } from './replicator.js';
export { Replicator } from './replicator.js';
