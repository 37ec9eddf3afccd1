// The audit log: who did what to which VM, filterable, paged with `before`.
import { type FormEvent, useCallback, useEffect, useId, useState } from 'react';
import type { AuditEntry } from '../api/types.ts';
import { useSession } from '../app-context.ts';
import { fmtTime } from '../format.ts';

const PAGE = 50;

function brief(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}…` : s;
}

export function AuditPanel({ vmId }: { vmId?: string }) {
  const { api } = useSession();
  const id = useId();
  const [action, setAction] = useState('');
  const [vmFilter, setVmFilter] = useState(vmId ?? '');
  const [applied, setApplied] = useState({ action: '', vmId: vmId ?? '' });
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  const load = useCallback(
    async (before?: number) => {
      setLoading(true);
      try {
        const r = await api.audit({ action: applied.action || undefined, vmId: applied.vmId || undefined, limit: PAGE, before });
        setEntries((prev) => (before === undefined ? r.entries : [...prev, ...r.entries]));
        setMore(r.entries.length === PAGE);
        setError(null);
      } catch (e) {
        setError(e instanceof Error ? e.message : String(e));
      } finally {
        setLoading(false);
      }
    },
    [api, applied],
  );

  useEffect(() => {
    void load();
  }, [load]);

  function submit(e: FormEvent) {
    e.preventDefault();
    setApplied({ action: action.trim(), vmId: vmFilter.trim() });
  }

  return (
    <div className="audit" data-testid="audit-panel">
      <form className="filter-row" onSubmit={submit} aria-label="Filter the audit log">
        <div className="field">
          <label htmlFor={`${id}-a`}>Action</label>
          <input id={`${id}-a`} value={action} placeholder="e.g. rollback" onChange={(e) => setAction(e.target.value)} />
        </div>
        {vmId === undefined && (
          <div className="field">
            <label htmlFor={`${id}-v`}>VM id</label>
            <input id={`${id}-v`} value={vmFilter} placeholder="all VMs" onChange={(e) => setVmFilter(e.target.value)} />
          </div>
        )}
        <button type="submit">Filter</button>
        <button type="button" onClick={() => void load()} disabled={loading}>
          Refresh
        </button>
      </form>
      {error && <p className="result-error">Could not load the audit log: {error}</p>}
      {entries.length === 0 && !loading && !error ? (
        <p className="muted">No audit entries match.</p>
      ) : (
        <div className="table-wrap">
          <table className="audit-table">
            <caption className="sr-only">Audit log, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Role</th>
                <th scope="col">Token</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Parameters</th>
                <th scope="col">Result</th>
                <th scope="col">Client</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((a) => (
                <tr key={a.id}>
                  <td>{fmtTime(a.time)}</td>
                  <td>{a.role}</td>
                  <td>{a.tokenLabel}</td>
                  <td>
                    <code>{a.action}</code>
                  </td>
                  <td>{a.target ?? ''}</td>
                  <td className="mono">{brief(a.parameters)}</td>
                  <td className="mono">{brief(a.result)}</td>
                  <td>{a.client ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {more && (
        <button type="button" onClick={() => void load(entries.at(-1)?.id)} disabled={loading}>
          Older entries
        </button>
      )}
    </div>
  );
}
