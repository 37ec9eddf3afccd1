export { listDomains, XenDomain } from './domain.js';
export type { DomainInfo, DomainState, HostDomain, XenCheckpointConfig, XenCheckpointStats, XenDomainEvents, XenRollbackResult } from './domain.js';
export { loadAddon } from './loader.js';
