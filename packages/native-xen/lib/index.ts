export { XenDomain } from './domain.js';
export type { DomainInfo, DomainState, XenCheckpointConfig, XenCheckpointStats, XenDomainEvents, XenRollbackResult } from './domain.js';
export { loadAddon } from './loader.js';
