// Detector alerts with the action taken and its outcome, rollbacks and state
// changes: the server's history first, then what the stream brings.
import { memo, useEffect, useMemo, useState } from 'react';
import type { AlertEvent, RecoveryEvent, RollbackEvent, TelemetryEvent } from '../api/types.ts';
import { useSession } from '../app-context.ts';
import { fmtNum, fmtTime, fmtUs } from '../format.ts';
import { useStoreVersion } from '../telemetry/hooks.ts';
import type { NotableEvent } from '../telemetry/store.ts';

type Filter = 'all' | 'alert' | 'rollback' | 'vm-state' | 'interval-tuned';
/** Injection records have their own list in the fault panel. */
type ShownEvent = Exclude<NotableEvent, { type: 'fault' }>;

function key(e: TelemetryEvent): string {
  return `${e.type}:${e.time}:${'seq' in e ? e.seq : ''}:${'message' in e ? e.message : ''}:${'outcome' in e ? e.outcome : ''}`;
}

function rollbackText(e: RollbackEvent): string {
  const who = e.cause === 'recovery' ? 'Recovery' : 'Operator';
  if (!e.ok) return `${who} rollback to ${String(e.target)} failed: ${e.error ?? 'no reason given'}`;
  return `${who} rollback to #${e.seq ?? String(e.target)}: ${fmtNum(e.pagesRestored ?? 0, 0)} pages restored in ${fmtUs(e.durationUs ?? 0)}, ${e.checkpointsDropped ?? 0} checkpoints dropped`;
}

/** What became of the recovery an alert started: its latest recovery event, else the rollback that followed. */
function outcomeOf(alert: AlertEvent, all: readonly ShownEvent[]): string {
  if (alert.action === 'none') return 'no action';
  if (alert.action === 'failed') return 'recovery failed';
  const recovery = all.find((e): e is RecoveryEvent => e.type === 'recovery' && e.alertId === alert.alertId);
  if (recovery) return recoveryText(recovery);
  const rb = all.find((e): e is RollbackEvent => e.type === 'rollback' && e.cause === 'recovery' && e.time >= alert.time && e.time - alert.time < 10_000);
  if (!rb) return 'rollback pending';
  return rb.ok ? `rolled back to #${rb.seq}, watching for a recurrence` : `rollback failed: ${rb.error ?? ''}`;
}

function recoveryText(e: RecoveryEvent): string {
  const rollbacks = `${e.rollbacks} rollback${e.rollbacks === 1 ? '' : 's'}`;
  if (e.outcome === 'recovered') return `recovered (${rollbacks}${e.seq !== undefined ? `, running from #${e.seq}` : ''})`;
  if (e.outcome === 'failed') return `failed: ${e.message}`;
  return `recurred after #${e.seq ?? '?'}: falling back to an older checkpoint`;
}

function evidenceText(evidence: Record<string, unknown>): string {
  return Object.entries(evidence)
    .map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}

export const EventsPanel = memo(function EventsPanel({ vmId }: { vmId: string }) {
  const { api, store } = useSession();
  useStoreVersion(store);
  const [history, setHistory] = useState<ShownEvent[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState<Filter>('all');

  useEffect(() => {
    let gone = false;
    api
      .events(vmId, { limit: 100, types: ['alert', 'recovery', 'rollback', 'vm-state', 'interval-tuned'] })
      .then((r) => {
        if (!gone) setHistory(r.events.map((s) => s.event).filter((e): e is ShownEvent => e.type !== 'epoch' && e.type !== 'console' && e.type !== 'fault'));
      })
      .catch((e: unknown) => !gone && setError(e instanceof Error ? e.message : String(e)));
    return () => {
      gone = true;
    };
  }, [api, vmId]);

  const live = store.events(vmId);
  const merged = useMemo(() => {
    const seen = new Set<string>();
    const out: ShownEvent[] = [];
    for (const e of [...history, ...live]) {
      const k = key(e);
      if (seen.has(k) || e.type === 'checkpoint' || e.type === 'fault') continue;
      seen.add(k);
      out.push(e);
    }
    return out.sort((a, b) => b.time - a.time);
  }, [history, live]);
  const shown = useMemo(() => merged.filter((e) => filter === 'all' || e.type === filter || (filter === 'alert' && e.type === 'recovery')), [merged, filter]);
  const alerts = merged.filter((e) => e.type === 'alert').length;

  return (
    <div className="events" data-testid="events-panel">
      <div className="section-head">
        <p className="muted">
          {alerts} alert{alerts === 1 ? '' : 's'}, {merged.length} events
        </p>
        <label className="inline-field">
          Show{' '}
          <select value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
            <option value="all">all events</option>
            <option value="alert">alerts</option>
            <option value="rollback">rollbacks</option>
            <option value="vm-state">state changes</option>
            <option value="interval-tuned">auto-tune</option>
          </select>
        </label>
      </div>
      {error && <p className="result-error">Could not load the event history: {error}</p>}
      <EventList shown={shown} merged={merged} />
    </div>
  );
});

/** The list itself, re-rendered only when its events change, not at every publish. */
const EventList = memo(function EventList({ shown, merged }: { shown: ShownEvent[]; merged: ShownEvent[] }) {
  return (
    <>
      {shown.length === 0 ? (
        <p className="muted">Nothing yet. Detector alerts and rollbacks appear here as they happen.</p>
      ) : (
        <ul className="event-list" aria-label="Events, newest first">
          {shown.slice(0, 200).map((e) => (
            <li key={key(e)} className={`event event-${e.type}`} data-type={e.type}>
              <time dateTime={new Date(e.time).toISOString()}>{fmtTime(e.time)}</time>
              {e.type === 'alert' && (
                <span data-detector={e.detector}>
                  <span className="badge tone-bad">alert</span> <strong>{e.detector}</strong>: {e.message}{' '}
                  <span className="muted">
                    (latency bound {e.latencyBoundMs} ms; action: {e.action}
                    {e.actionReason ? `, ${e.actionReason}` : ''}; outcome: <span data-testid="alert-outcome">{outcomeOf(e, merged)}</span>)
                  </span>
                  {Object.keys(e.evidence).length > 0 && <span className="muted"> Evidence: {evidenceText(e.evidence)}.</span>}
                  {e.injectionId && <span className="muted"> Caused by injection {e.injectionId}.</span>}
                </span>
              )}
              {e.type === 'recovery' && (
                <span>
                  <span className={`badge ${e.outcome === 'failed' ? 'tone-bad' : e.outcome === 'recovered' ? 'tone-ok' : 'tone-warn'}`}>recovery</span> {e.detector} alert:{' '}
                  {recoveryText(e)} <span className="muted">({e.message})</span>
                </span>
              )}
              {e.type === 'rollback' && (
                <span>
                  <span className={`badge ${e.ok ? 'tone-warn' : 'tone-bad'}`}>rollback</span> {rollbackText(e)}
                </span>
              )}
              {e.type === 'interval-tuned' && (
                <span>
                  <span className="badge tone-info">auto-tune</span> interval {e.from} ms → <strong>{e.to} ms</strong>: {e.reason}{' '}
                  <span className="muted">
                    (modelled overhead {e.modelledOverheadPct.toFixed(2)} %{e.measuredOverheadPct !== null ? `, measured ${e.measuredOverheadPct.toFixed(2)} %` : ''}, budget {e.overheadBudgetPct} %)
                  </span>
                </span>
              )}
              {e.type === 'vm-state' && (
                <span>
                  <span className="badge tone-info">state</span> {e.state}
                  {e.reason ? `: ${e.reason}` : ''}
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
    </>
  );
});
