// The retained checkpoint ring, newest last, with rollback behind a confirm
// dialog that names what will be lost, and the server's result once done.
import { memo, useCallback, useEffect, useId, useRef, useState } from 'react';
import { ApiError } from '../api/client.ts';
import type { CheckpointInfo, RollbackResult, RollbackTarget, TakenCheckpoint } from '../api/types.ts';
import { canMutate, useSession } from '../app-context.ts';
import { fmtAge, fmtBytes, fmtNum, fmtUs } from '../format.ts';
import { useVisible } from '../telemetry/hooks.ts';
import { ConfirmDialog } from './ConfirmDialog.tsx';

const REFRESH_MS = 1000;

export const CheckpointTimeline = memo(function CheckpointTimeline({
  vmId,
  vmName,
  enabled,
  stale,
}: {
  vmId: string;
  vmName: string;
  enabled: boolean;
  stale: boolean;
}) {
  const { api, role } = useSession();
  const id = useId();
  const ref = useRef<HTMLElement>(null);
  const visible = useVisible(ref);
  const [list, setList] = useState<{ checkpoints: CheckpointInfo[]; at: number } | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [target, setTarget] = useState<RollbackTarget | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [taken, setTaken] = useState<TakenCheckpoint | null>(null);
  const load = useCallback(async () => {
    try {
      const r = await api.checkpoints(vmId);
      setList({ checkpoints: r.checkpoints, at: Date.now() });
      setLoadError(null);
    } catch (e) {
      setLoadError(e instanceof Error ? e.message : String(e));
    }
  }, [api, vmId]);

  // Refreshed once a second while on screen; held still while a rollback is being confirmed.
  useEffect(() => {
    if (!visible || target !== null) return;
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(t);
  }, [visible, target, load]);

  const mutate = canMutate(role);
  const cps = list?.checkpoints ?? [];
  const newest = cps.length ? Math.max(...cps.map((c) => c.seq)) : null;
  const ageNow = (c: CheckpointInfo) => c.ageMs + (list ? Date.now() - list.at : 0);

  async function takeNow() {
    setResult(null);
    try {
      const t = await api.takeCheckpoint(vmId);
      setTaken(t);
      setResult({ kind: 'ok', text: `Checkpoint #${t.seq} taken: ${fmtNum(t.pages, 0)} pages, ${fmtBytes(t.bytes)}.` });
      await load();
    } catch (e) {
      setResult({ kind: 'error', text: `Checkpoint refused: ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  async function rollback() {
    if (target === null) return;
    setBusy(true);
    try {
      const r: RollbackResult = await api.rollback(vmId, target);
      setResult({
        kind: 'ok',
        text: `Rolled back to checkpoint #${r.seq}: ${fmtNum(r.pagesRestored, 0)} pages restored in ${fmtUs(r.durationUs)}, ${r.checkpointsDropped} newer checkpoint${r.checkpointsDropped === 1 ? '' : 's'} dropped.`,
      });
    } catch (e) {
      const msg = e instanceof ApiError ? `${e.message} (${e.status || e.code})` : String(e);
      setResult({ kind: 'error', text: `Rollback failed: ${msg}` });
    } finally {
      setBusy(false);
      setTarget(null);
      void load();
    }
  }

  const chosen = typeof target === 'number' ? cps.find((c) => c.seq === target) : undefined;
  const lost = typeof target === 'number' ? cps.filter((c) => c.seq > target) : [];

  return (
    <section ref={ref} aria-labelledby={`${id}-h`} className={`card timeline ${stale ? 'stale' : ''}`} data-testid="timeline">
      <div className="section-head">
        <h2 id={`${id}-h`}>Checkpoints</h2>
        {mutate && (
          <div className="btn-row">
            <button type="button" onClick={takeNow} disabled={!enabled} data-testid="take-checkpoint">
              Take checkpoint now
            </button>
            <button type="button" className="btn-danger-outline" onClick={() => setTarget('safe')} disabled={cps.length === 0} data-testid="rollback-safe">
              Roll back to safe…
            </button>
          </div>
        )}
      </div>
      {result && (
        <p className={result.kind === 'ok' ? 'result-ok' : 'result-error'} role={result.kind === 'ok' ? 'status' : 'alert'} data-testid="timeline-result">
          {result.text}
        </p>
      )}
      {loadError && <p className="result-error">Could not load checkpoints: {loadError}</p>}
      {cps.length > 0 && (
        <ol className="ring" aria-label="Retained checkpoints, oldest first">
          {cps.map((c) => (
            <li
              key={c.seq}
              className={`ring-cell ${c.verified ? '' : 'corrupt'} ${taken?.seq === c.seq ? 'manual' : ''}`}
              title={`#${c.seq}: ${fmtNum(c.pages, 0)} pages, ${fmtBytes(c.bytes)}, ${fmtAge(ageNow(c))} ago${c.verified ? '' : ', CORRUPT'}`}
            />
          ))}
        </ol>
      )}
      {list && cps.length === 0 && <p className="muted">No checkpoints retained{enabled ? ' yet' : ': checkpointing is off'}.</p>}
      {cps.length > 0 && (
        <div className="table-wrap scroll-y">
          <table className="cp-table" data-testid="checkpoint-table">
            <caption className="sr-only">Retained checkpoints</caption>
            <thead>
              <tr>
                <th scope="col" className="num">Seq</th>
                <th scope="col" className="num">Age</th>
                <th scope="col" className="num">Pages</th>
                <th scope="col" className="num">Bytes</th>
                <th scope="col">Integrity</th>
                {mutate && <th scope="col"><span className="sr-only">Action</span></th>}
              </tr>
            </thead>
            <tbody>
              {[...cps].reverse().map((c) => (
                <tr key={c.seq} data-seq={c.seq}>
                  <td className="num">#{c.seq}</td>
                  <td className="num">{fmtAge(ageNow(c))}</td>
                  <td className="num">{fmtNum(c.pages, 0)}</td>
                  <td className="num">{fmtBytes(c.bytes)}</td>
                  <td>{c.verified ? <span className="tone-ok-text">verified</span> : <span className="tone-bad-text">corrupt</span>}</td>
                  {mutate && (
                    <td>
                      <button type="button" className="btn-small" onClick={() => setTarget(c.seq)} aria-label={`Roll back to checkpoint ${c.seq}`}>
                        Roll back…
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ConfirmDialog
        open={target !== null}
        title={target === 'safe' ? `Roll back ${vmName} to the safe checkpoint?` : `Roll back ${vmName} to checkpoint #${String(target)}?`}
        confirmLabel="Roll back"
        danger
        busy={busy}
        onConfirm={rollback}
        onCancel={() => setTarget(null)}
      >
        {target === 'safe' ? (
          <p>
            The server picks the newest checkpoint older than the error detectors' latency bound. Everything the guest did
            after it is lost, and every newer checkpoint is dropped.
          </p>
        ) : (
          <p data-testid="rollback-loss">
            Everything the guest did in the last {chosen ? fmtAge(ageNow(chosen)) : 'moments'} is lost:{' '}
            {lost.length === 0
              ? 'only the work since this checkpoint (no newer checkpoints).'
              : `${lost.length} newer checkpoint${lost.length === 1 ? '' : 's'} (#${lost[0]!.seq}${lost.length > 1 ? `–#${newest}` : ''}) ${lost.length === 1 ? 'is' : 'are'} dropped, with the work since #${String(target)}.`}{' '}
            If the checkpoint is retired before you confirm, the server refuses and nothing changes.
          </p>
        )}
      </ConfirmDialog>
    </section>
  );
});
