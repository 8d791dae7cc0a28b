export type { StackAddresses } from './addresses.js';
export { stackAddresses } from './addresses.js';
export type { Slate } from './slate.js';
export { freshSlate } from './slate.js';
