export * from './config.js';
export * from './errors.js';
export type * from './events.js';
