// Checkpoint settings onto a native VM, the same for every hypervisor.
import type { Checkpointable } from '@uckpt/native-core';
import type { CheckpointSettings } from '../config.js';

/** On, off, or changed while on (a change of mode drops the retained checkpoints and starts over). */
export function applyCheckpointSettings(vm: Pick<Checkpointable, 'enableCheckpointing' | 'configureCheckpointing' | 'disableCheckpointing'>, next: CheckpointSettings, previous: CheckpointSettings | null): void {
  const wasOn = previous?.enabled ?? false;
  if (!next.enabled) {
    if (wasOn) vm.disableCheckpointing();
    return;
  }
  const { intervalMs, retention, mode, predictor, precopy } = next;
  if (wasOn) vm.configureCheckpointing({ intervalMs, retention, mode, predictor, precopy });
  else vm.enableCheckpointing({ intervalMs, retention, mode, predictor, precopy });
}
