export type { ConfirmTarget, EventEncoder, ReplicatorObserver, ReplicatorOptions } from './replicator.js';
export { Replicator } from './replicator.js';
