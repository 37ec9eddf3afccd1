// Which VM protects a Xen domain: the one attached to it that has not let
// go of it (a VM that stopped or failed has).
import type { VmView } from '../service/vm-view.js';

const letGo = new Set(['finished', 'failed', 'stopped']);

export function protectorOf(vms: VmView[], domid: number): string | null {
  return vms.find((vm) => vm.spec.domid === domid && !letGo.has(vm.state))?.id ?? null;
}
