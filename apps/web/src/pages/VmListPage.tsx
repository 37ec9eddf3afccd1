import { useSession } from '../app-context.ts';
import { BackendBadge, SimulatedBanner, StateBadge } from '../components/Badges.tsx';
import { fmtAge, fmtBytes, fmtNum, fmtPct } from '../format.ts';
import { href } from '../route.ts';
import { useStoreVersion } from '../telemetry/hooks.ts';

export function VmListPage() {
  const { store, role, host } = useSession();
  useStoreVersion(store);
  const vms = store.vms;
  const stale = store.connection.status !== 'live';
  const now = store.serverNow();

  if (!store.loaded)
    return (
      <section aria-busy="true">
        <h1>Virtual machines</h1>
        <p className="muted">Loading…</p>
      </section>
    );

  return (
    <section>
      <div className="page-head">
        <h1>Virtual machines</h1>
        {role === 'operator' && (
          <a className="btn btn-primary" href={href.create}>
            New VM
          </a>
        )}
      </div>
      <SimulatedBanner count={vms.filter((v) => v.simulated).length} />
      {vms.length === 0 && host?.hypervisor === null ? (
        <div className="empty card" data-testid="empty-state">
          <h2>No VMs: this host has no hypervisor</h2>
          <p>What to install is listed above; restart the service afterwards.</p>
        </div>
      ) : vms.length === 0 ? (
        <div className="empty card" data-testid="empty-state">
          <h2>No VMs yet</h2>
          {role === 'operator' ? (
            <p>
              Protect one with <a href={href.create}>New VM</a>, or from a shell:{' '}
              <code>curl -X POST -H "Authorization: Bearer $UCKPT_OPERATOR_TOKEN" -H 'content-type: application/json' -d
              '{'{'}"name":"vm1","workload":"hashtable"{'}'}' http://127.0.0.1:8080/api/vms</code>
            </p>
          ) : (
            <p>An operator can add one from the dashboard or with POST /api/vms.</p>
          )}
        </div>
      ) : (
        <div className={`table-wrap ${stale ? 'stale' : ''}`}>
          <table className="vm-table" data-testid="vm-table">
            <caption className="sr-only">Protected VMs with live checkpoint figures</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Backend</th>
                <th scope="col">State</th>
                <th scope="col">Mode</th>
                <th scope="col" className="num">Interval</th>
                <th scope="col" className="num">Overhead</th>
                <th scope="col" className="num">Progress rate</th>
                <th scope="col" className="num">Last checkpoint</th>
                <th scope="col" className="num">Retained</th>
                <th scope="col" className="num">Store memory</th>
              </tr>
            </thead>
            <tbody>
              {vms.map((vm) => (
                <tr key={vm.id} data-vm-id={vm.id} className={vm.state === 'failed' || vm.state === 'crashed' ? 'row-bad' : undefined}>
                  <th scope="row">
                    <a href={href.vm(vm.id)}>{vm.name}</a>
                    {vm.reason && (vm.state === 'failed' || vm.state === 'crashed') && (
                      <div className="reason">{vm.reason}</div>
                    )}
                  </th>
                  <td>
                    <BackendBadge vm={vm} />
                  </td>
                  <td>
                    <StateBadge state={vm.state} />
                  </td>
                  <td>{vm.settings.enabled ? vm.settings.mode : <span className="muted">off</span>}</td>
                  <td className="num">{vm.settings.intervalMs} ms</td>
                  <td className="num">{fmtPct(vm.overheadPct)}</td>
                  <td className="num">{fmtNum(vm.progress.rate)} units/s</td>
                  <td className="num">{vm.lastCheckpointTime ? `${fmtAge(now - vm.lastCheckpointTime)} ago` : '–'}</td>
                  <td className="num">{vm.checkpointsRetained}</td>
                  <td className="num">{fmtBytes(vm.storeBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
