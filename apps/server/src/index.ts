// The service as a library: what `uckpt serve` (apps/cli) starts.
export { buildApp, defaultWebRoot, type AppOptions } from './app.js';
export { serverLogger } from './logging.js';
export { allowedHostsFor } from './plugins/host-allowlist.js';
export { defaultRateLimits, type RateLimits } from './plugins/security.js';
export { defaultCapacity, type CapacityLimits } from './service/capacity.js';
export { Service, type ServiceOptions } from './service/service.js';
export { lockStateDir, prepareStateDir, UnsafeStateError } from './service/state-dir.js';
