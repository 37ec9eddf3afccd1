export type { Checkpointable } from './checkpointable.js';
export type {
  CheckpointConfig,
  CheckpointCosts,
  CheckpointInfo,
  CheckpointMode,
  CheckpointPatch,
  CheckpointStats,
  EpochRecord,
  PredictorName,
  RollbackResult,
} from './checkpointing.js';
export { requireAddon } from './loader.js';
export { nearestRank, percentiles } from './percentiles.js';
export { seededRandom, type Random } from './seeded-random.js';
export { msToSeconds, nsToUs, usToMs, usToSeconds } from './units.js';
