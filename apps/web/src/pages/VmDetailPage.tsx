import { useEffect, useState } from 'react';
import { ApiError } from '../api/client.ts';
import { canMutate, useSession } from '../app-context.ts';
import { AuditPanel } from '../components/AuditPanel.tsx';
import { AvailabilityPanel } from '../components/AvailabilityPanel.tsx';
import { BackendBadge, FailedBanner, SimulatedBanner, StateBadge } from '../components/Badges.tsx';
import { CheckpointTimeline } from '../components/CheckpointTimeline.tsx';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { ConsolePanel } from '../components/ConsolePanel.tsx';
import { ControlsPanel, SettingsSummary } from '../components/ControlsPanel.tsx';
import { EventsPanel } from '../components/EventsPanel.tsx';
import { FaultPanel } from '../components/FaultPanel.tsx';
import { type Tab, Tabs } from '../components/Tabs.tsx';
import { VmCharts } from '../components/VmCharts.tsx';
import { fmtAge, fmtBytes, fmtNum, fmtPct, fmtUs } from '../format.ts';
import { href, navigate } from '../route.ts';
import { useStoreVersion } from '../telemetry/hooks.ts';

export function VmDetailPage({ id }: { id: string }) {
  const { api, store, role, faultInjection } = useSession();
  useStoreVersion(store);
  const [missing, setMissing] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const vm = store.vm(id);

  useEffect(() => {
    api
      .vm(id)
      .then((v) => {
        store.upsertVm(v);
        store.publish();
      })
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) setMissing(`There is no VM ${id}.`);
      });
    if (store.beginBackfill(id)) {
      api.recentEpochs(id).then(
        ({ epochs }) => store.backfill(id, epochs),
        () => store.backfill(id, null),
      );
    }
  }, [api, store, id]);

  if (!vm)
    return (
      <section>
        <p>
          <a href={href.list}>← All VMs</a>
        </p>
        <p className={missing ? 'result-error' : 'muted'}>{missing ?? 'Loading…'}</p>
      </section>
    );

  const stale = store.connection.status !== 'live';
  const series = store.series(id);
  const now = store.serverNow();
  const latest = series.latest;
  const mutate = canMutate(role);

  const tabs: Tab[] = [
    { id: 'events', label: 'Alerts & events', render: () => <EventsPanel vmId={id} /> },
    { id: 'console', label: 'Console', render: () => <ConsolePanel vmId={id} /> },
    { id: 'audit', label: 'Audit', render: () => <AuditPanel vmId={id} /> },
    { id: 'availability', label: 'Availability', render: () => <AvailabilityPanel vmId={id} settings={vm.settings} /> },
  ];
  // Only a server started for testing accepts injections; elsewhere the panel would only ever be refused.
  if (mutate && faultInjection) tabs.push({ id: 'faults', label: 'Fault injection (testing)', render: () => <FaultPanel vmId={id} /> });

  async function remove() {
    try {
      await api.deleteVm(id);
      store.removeVm(id);
      store.publish();
      navigate(href.list);
    } catch (e) {
      setDeleteError(e instanceof Error ? e.message : String(e));
      setConfirmDelete(false);
    }
  }

  return (
    <section className="detail" data-testid="vm-detail" data-vm-id={id}>
      <p className="crumbs">
        <a href={href.list}>← All VMs</a>
      </p>
      <div className="page-head">
        <h1>
          {vm.name} <StateBadge state={vm.state} /> <BackendBadge vm={vm} />
        </h1>
        {mutate && (
          <button type="button" className="btn-danger-outline" onClick={() => setConfirmDelete(true)}>
            Delete VM…
          </button>
        )}
      </div>
      <p className="muted">
        {vm.id} · workload <strong>{vm.spec.workload}</strong> · {vm.spec.memoryMiB} MiB · {vm.spec.vcpus} vCPU · seed {vm.spec.seed}
        {vm.spec.repeat === 0 ? ' · loops forever' : ` · ${vm.spec.repeat} run${vm.spec.repeat === 1 ? '' : 's'}`}
      </p>
      {deleteError && <p className="result-error">Could not delete: {deleteError}</p>}
      {vm.simulated && <SimulatedBanner count={1} />}
      <FailedBanner vm={vm} />

      <dl className={`stats ${stale ? 'stale' : ''}`} data-testid="stats">
        <div>
          <dt>Epoch rate</dt>
          <dd data-testid="epoch-rate">{fmtNum(series.epochRate(now), 1)} /s</dd>
        </div>
        <div>
          <dt>Epochs</dt>
          <dd data-testid="epochs">{fmtNum(vm.epochs, 0)}</dd>
        </div>
        <div>
          <dt title="Time the guest lost to checkpoint pauses and write faults, per time it ran, over the last 2 s">Overhead</dt>
          <dd data-testid="overhead">
            {fmtPct(vm.overheadPct)}
            {vm.overheadCalibratedPct !== null && (
              <span className="muted small" title="The progress rate calibrated before protection against the current one: it also moves with the guest's own speed">
                {' '}
                (vs calibration {vm.overheadCalibratedPct >= 0 ? '+' : ''}
                {fmtPct(vm.overheadCalibratedPct, 0)})
              </span>
            )}
          </dd>
        </div>
        <div>
          <dt>Progress</dt>
          <dd>{fmtNum(vm.progress.rate)} units/s</dd>
        </div>
        <div>
          <dt>Pause (last)</dt>
          <dd>{fmtUs(latest?.pauseUs)}</dd>
        </div>
        <div>
          <dt>Last checkpoint</dt>
          <dd>{vm.lastCheckpointTime ? `${fmtAge(now - vm.lastCheckpointTime)} ago` : '–'}</dd>
        </div>
        <div>
          <dt>Store</dt>
          <dd>{fmtBytes(vm.storeBytes)}</dd>
        </div>
        <div>
          <dt>Runs done</dt>
          <dd data-testid="runs-done">{vm.progress.runsDone}</dd>
        </div>
        <div>
          <dt>Last checksum</dt>
          <dd className="mono" data-testid="checksum">
            {vm.progress.lastChecksum ?? '–'}
          </dd>
        </div>
      </dl>

      <div className="detail-grid">
        <VmCharts vmId={id} stale={stale} />
        <aside className="side">
          {mutate ? <ControlsPanel vmId={id} settings={vm.settings} stale={stale} /> : <SettingsSummary vm={vm} />}
          <CheckpointTimeline vmId={id} vmName={vm.name} enabled={vm.settings.enabled} stale={stale} />
        </aside>
      </div>

      <Tabs label="VM details" tabs={tabs} />

      <ConfirmDialog
        open={confirmDelete}
        title={`Delete ${vm.name}?`}
        confirmLabel="Delete"
        danger
        onConfirm={remove}
        onCancel={() => setConfirmDelete(false)}
      >
        <p>The VM is stopped and its retained checkpoints are discarded. Its audit entries and event history stay.</p>
      </ConfirmDialog>
    </section>
  );
}
