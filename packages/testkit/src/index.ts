export type { StackAddresses } from './addresses.js';
export { stackAddresses } from './addresses.js';
export type { ServiceProcess } from './service-process.js';
export { startService, writeConfig } from './service-process.js';
export type { Slate } from './slate.js';
export { freshSlate } from './slate.js';
export type { ReadMessage } from './topic-reader.js';
export { readTopics } from './topic-reader.js';
