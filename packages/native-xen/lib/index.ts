export { listDomains, XenDomain } from './domain.js';
export type { DomainInfo, DomainState, HostDomain, XenCheckpointConfig, XenCheckpointStats, XenDomainEvents, VcpuSample, XenRollbackResult } from './domain.js';
export { loadAddon } from './loader.js';
