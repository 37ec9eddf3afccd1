import type { VmState, VmView } from '../api/types.ts';

const stateTone: Record<VmState, string> = {
  starting: 'info',
  calibrating: 'info',
  running: 'ok',
  paused: 'warn',
  'rolling-back': 'warn',
  finished: 'muted',
  crashed: 'bad',
  failed: 'bad',
  stopped: 'muted',
};

export function StateBadge({ state }: { state: VmState }) {
  return (
    <span className={`badge tone-${stateTone[state]}`} data-testid="vm-state">
      {state}
    </span>
  );
}

export function BackendBadge({ vm }: { vm: Pick<VmView, 'backend' | 'simulated'> }) {
  return vm.simulated ? (
    <span className="badge tone-sim" title="Simulated backend: a test double, not a real hypervisor">
      {vm.backend} · simulated
    </span>
  ) : (
    <span className="badge tone-muted">{vm.backend}</span>
  );
}

/** Shown wherever a simulated VM's numbers appear. */
export function SimulatedBanner({ count }: { count: number }) {
  if (count === 0) return null;
  return (
    <div className="banner banner-sim" role="note" data-testid="sim-banner">
      <strong>Simulated backend.</strong>{' '}
      {count === 1 ? 'One VM runs' : `${count} VMs run`} on the <code>sim</code> test double: no hypervisor, no guest
      memory. Its numbers exercise the dashboard and say nothing about real checkpoint costs.
    </div>
  );
}

export function FailedBanner({ vm }: { vm: VmView }) {
  if (vm.state !== 'failed' && vm.state !== 'crashed') return null;
  return (
    <div className="banner banner-bad" role="alert" data-testid="failed-banner">
      <strong>VM {vm.state}.</strong> {vm.reason ?? 'No reason was reported.'}
    </div>
  );
}
