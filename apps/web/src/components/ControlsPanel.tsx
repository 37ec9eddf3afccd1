// Checkpoint settings of one VM. Edits are drafts until the server answers;
// the form then shows the server's settings, never the ones it sent.
import { limits } from '@uckpt/engine/config';
import { type FormEvent, memo, useId, useState } from 'react';
import { ApiError } from '../api/client.ts';
import type { CheckpointMode, CheckpointSettings, PredictorName, VmView } from '../api/types.ts';
import { useSession } from '../app-context.ts';

/** The detection settings edited as numbers, with their ranges and what they mean. */
const detectionFields = [
  { key: 'hangTimeoutMs', label: 'Hang threshold (ms)', range: limits.hangTimeoutMs, hint: 'no guest progress for this long is a hang' },
  { key: 'selfCheckLatencyMs', label: 'Self-check latency bound (ms)', range: limits.latencyBoundMs, hint: "how late the guest's self-checks may report" },
  { key: 'crashLatencyMs', label: 'Crash latency bound (ms)', range: limits.latencyBoundMs, hint: 'how long a corruption may stay silent before a crash' },
  { key: 'recurrenceWindowMs', label: 'Recurrence window (ms)', range: limits.recurrenceWindowMs, hint: 'an alert this soon after a recovery falls back to an older checkpoint' },
] as const;
type DetectionKey = (typeof detectionFields)[number]['key'];

interface Draft extends Record<DetectionKey, string> {
  intervalMs: string;
  retention: string;
  mode: CheckpointMode;
  predictor: PredictorName;
  precopy: boolean;
  enabled: boolean;
  autoRecover: boolean;
}

const toDraft = (s: CheckpointSettings): Draft => ({
  intervalMs: String(s.intervalMs),
  retention: String(s.retention),
  mode: s.mode,
  predictor: s.predictor,
  precopy: s.precopy,
  enabled: s.enabled,
  autoRecover: s.autoRecover,
  hangTimeoutMs: String(s.hangTimeoutMs),
  selfCheckLatencyMs: String(s.selfCheckLatencyMs),
  crashLatencyMs: String(s.crashLatencyMs),
  recurrenceWindowMs: String(s.recurrenceWindowMs),
});

/** Why an integer field is invalid, or null. */
export function integerProblem(text: string, min: number, max: number, unit = ''): string | null {
  if (text.trim() === '') return 'Required.';
  if (!/^\d+$/.test(text.trim())) return 'Enter a whole number.';
  const v = Number(text);
  if (v < min || v > max) return `Must be between ${min} and ${max}${unit}.`;
  return null;
}

// Memoized on the settings: epochs change the VM object ten times a second, not its settings.
export const ControlsPanel = memo(function ControlsPanel({ vmId, settings, stale }: { vmId: string; settings: CheckpointSettings; stale: boolean }) {
  const { api, store } = useSession();
  const id = useId();
  const [draft, setDraft] = useState<Draft | null>(null);
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const shown = draft ?? toDraft(settings);

  const intervalErr = integerProblem(shown.intervalMs, limits.intervalMs.min, limits.intervalMs.max, ' ms');
  const retentionErr = integerProblem(shown.retention, limits.retention.min, limits.retention.max);
  const detectionErrs = Object.fromEntries(detectionFields.map((f) => [f.key, integerProblem(shown[f.key], f.range.min, f.range.max, ' ms')])) as Record<DetectionKey, string | null>;
  const anyDetectionErr = Object.values(detectionErrs).some(Boolean);

  function edit(patch: Partial<Draft>) {
    setDraft({ ...shown, ...patch });
    setAnswer(null);
  }

  const changes: Partial<CheckpointSettings> = {};
  if (draft) {
    if (!intervalErr && Number(draft.intervalMs) !== settings.intervalMs) changes.intervalMs = Number(draft.intervalMs);
    if (!retentionErr && Number(draft.retention) !== settings.retention) changes.retention = Number(draft.retention);
    if (draft.mode !== settings.mode) changes.mode = draft.mode;
    if (draft.predictor !== settings.predictor) changes.predictor = draft.predictor;
    if (draft.precopy !== settings.precopy) changes.precopy = draft.precopy;
    if (draft.enabled !== settings.enabled) changes.enabled = draft.enabled;
    if (draft.autoRecover !== settings.autoRecover) changes.autoRecover = draft.autoRecover;
    for (const { key } of detectionFields) if (!detectionErrs[key] && Number(draft[key]) !== settings[key]) changes[key] = Number(draft[key]);
  }
  const hasChanges = Object.keys(changes).length > 0;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (intervalErr || retentionErr || anyDetectionErr || !hasChanges) return;
    setBusy(true);
    try {
      const answer = await api.configure(vmId, changes);
      const current = store.vm(vmId);
      if (current) store.upsertVm({ ...current, settings: answer.settings });
      store.publish();
      setDraft(null);
      setAnswer({ kind: 'ok', text: `Applied: ${describe(changes, answer.settings)}.` });
    } catch (err) {
      setAnswer({ kind: 'error', text: err instanceof ApiError ? `Refused: ${err.message}` : String(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby={`${id}-h`} className={`card controls ${stale ? 'stale' : ''}`} data-testid="controls">
      <h2 id={`${id}-h`}>Checkpoint settings</h2>
      <form onSubmit={submit} noValidate>
        <div className="check-row">
          <div className="field-check">
            <input id={`${id}-en`} type="checkbox" checked={shown.enabled} onChange={(e) => edit({ enabled: e.target.checked })} />
            <label htmlFor={`${id}-en`}>Checkpointing enabled</label>
          </div>
          <div className="field-check">
            <input id={`${id}-pc`} type="checkbox" checked={shown.precopy} onChange={(e) => edit({ precopy: e.target.checked })} />
            <label htmlFor={`${id}-pc`} title="Stop-and-copy: pages written early in an epoch are copied while the guest runs, so pauses are shorter">
              Copy ahead while the guest runs
            </label>
          </div>
        </div>
        <div className="field-grid">
          <div className="field">
            <label htmlFor={`${id}-iv`}>Interval (ms)</label>
            <input
              id={`${id}-iv`}
              name="intervalMs"
              inputMode="numeric"
              value={shown.intervalMs}
              aria-invalid={intervalErr ? true : undefined}
              aria-describedby={`${id}-iv-h`}
              onChange={(e) => edit({ intervalMs: e.target.value })}
            />
            <span id={`${id}-iv-h`} className={intervalErr ? 'field-error' : 'hint'}>
              {intervalErr ?? `${limits.intervalMs.min}–${limits.intervalMs.max} ms`}
            </span>
          </div>
          <div className="field">
            <label htmlFor={`${id}-rt`}>Retention (checkpoints)</label>
            <input
              id={`${id}-rt`}
              name="retention"
              inputMode="numeric"
              value={shown.retention}
              aria-invalid={retentionErr ? true : undefined}
              aria-describedby={`${id}-rt-h`}
              onChange={(e) => edit({ retention: e.target.value })}
            />
            <span id={`${id}-rt-h`} className={retentionErr ? 'field-error' : 'hint'}>
              {retentionErr ?? `${limits.retention.min}–${limits.retention.max}`}
            </span>
          </div>
          <div className="field">
            <label htmlFor={`${id}-md`}>Mode</label>
            <select id={`${id}-md`} name="mode" value={shown.mode} onChange={(e) => edit({ mode: e.target.value as CheckpointMode })}>
              <option value="stop-and-copy">stop-and-copy</option>
              <option value="cow">copy-on-write</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-pr`}>Dirty-page predictor</label>
            <select id={`${id}-pr`} name="predictor" value={shown.predictor} onChange={(e) => edit({ predictor: e.target.value as PredictorName })}>
              <option value="off">off</option>
              <option value="history">history</option>
              <option value="frontier">frontier</option>
              <option value="cost">cost model</option>
            </select>
          </div>
        </div>
        <fieldset className="detection">
          <legend>Detection and recovery</legend>
          <div className="field-check">
            <input id={`${id}-ar`} type="checkbox" checked={shown.autoRecover} onChange={(e) => edit({ autoRecover: e.target.checked })} />
            <label htmlFor={`${id}-ar`}>Automatic recovery (off: alert only)</label>
          </div>
          <div className="field-grid">
            {detectionFields.map((f) => (
              <div className="field" key={f.key}>
                <label htmlFor={`${id}-${f.key}`}>{f.label}</label>
                <input
                  id={`${id}-${f.key}`}
                  name={f.key}
                  inputMode="numeric"
                  value={shown[f.key]}
                  aria-invalid={detectionErrs[f.key] ? true : undefined}
                  aria-describedby={`${id}-${f.key}-h`}
                  onChange={(e) => edit({ [f.key]: e.target.value })}
                />
                <span id={`${id}-${f.key}-h`} className={detectionErrs[f.key] ? 'field-error' : 'hint'}>
                  {detectionErrs[f.key] ?? f.hint}
                </span>
              </div>
            ))}
          </div>
        </fieldset>
        <div className="btn-row">
          <button type="submit" className="btn-primary" disabled={busy || !hasChanges || !!intervalErr || !!retentionErr || anyDetectionErr}>
            {busy ? 'Applying…' : 'Apply'}
          </button>
          <button type="button" disabled={busy || draft === null} onClick={() => { setDraft(null); setAnswer(null); }}>
            Reset
          </button>
        </div>
        {answer && (
          <p className={answer.kind === 'ok' ? 'result-ok' : 'result-error'} role={answer.kind === 'ok' ? 'status' : 'alert'} data-testid="controls-result">
            {answer.text}
          </p>
        )}
      </form>
    </section>
  );
});

function describe(sent: Partial<CheckpointSettings>, got: CheckpointSettings): string {
  return (Object.keys(sent) as (keyof CheckpointSettings)[]).map((k) => `${k} = ${String(got[k])}`).join(', ');
}

/** Read-only settings for viewers. */
export function SettingsSummary({ vm }: { vm: VmView }) {
  const s = vm.settings;
  return (
    <section className="card controls" aria-label="Checkpoint settings">
      <h2>Checkpoint settings</h2>
      <dl className="kv">
        <dt>Checkpointing</dt>
        <dd>{s.enabled ? 'enabled' : 'disabled'}</dd>
        <dt>Interval</dt>
        <dd>{s.intervalMs} ms</dd>
        <dt>Retention</dt>
        <dd>{s.retention} checkpoints</dd>
        <dt>Mode</dt>
        <dd>{s.mode}</dd>
        <dt>Predictor</dt>
        <dd>{s.predictor}</dd>
        <dt>Copying ahead</dt>
        <dd>{s.precopy ? 'on' : 'off'}</dd>
        <dt>Automatic recovery</dt>
        <dd>{s.autoRecover ? 'on' : 'off (alert only)'}</dd>
        <dt>Hang threshold</dt>
        <dd>{s.hangTimeoutMs} ms</dd>
        <dt>Latency bounds</dt>
        <dd>self-check {s.selfCheckLatencyMs} ms, crash {s.crashLatencyMs} ms</dd>
        <dt>Recurrence window</dt>
        <dd>{s.recurrenceWindowMs} ms</dd>
      </dl>
    </section>
  );
}
