export { backoffMs, drainOnSignals } from './lifecycle.js';
export type { Logger } from './logger.js';
export { createLogger } from './logger.js';
