// Checkpoint settings onto a native VM, the same for every hypervisor.
import type { CheckpointConfig, CheckpointPatch } from '@uckpt/native-kvm';
import type { CheckpointSettings } from '../config.js';

/** What the KVM Vm and the Xen domain both offer. */
interface Checkpointable {
  enableCheckpointing(config: CheckpointConfig): void;
  configureCheckpointing(patch: CheckpointPatch): void;
  disableCheckpointing(): void;
}

/** On, off, or changed while on (a change of mode drops the retained checkpoints and starts over). */
export function applyCheckpointSettings(vm: Checkpointable, next: CheckpointSettings, previous: CheckpointSettings | null): void {
  const wasOn = previous?.enabled ?? false;
  if (!next.enabled) {
    if (wasOn) vm.disableCheckpointing();
    return;
  }
  const { intervalMs, retention, mode, predictor, precopy } = next;
  if (wasOn) vm.configureCheckpointing({ intervalMs, retention, mode, predictor, precopy });
  else vm.enableCheckpointing({ intervalMs, retention, mode, predictor, precopy });
}
