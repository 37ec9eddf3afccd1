// The availability model for one VM: what its checkpointing buys now, the
// curve over intervals, and the interval the model recommends within an
// overhead budget. Applying it, or switching auto-tune on so that the VM
// follows it by itself, is an ordinary settings change, confirmed by the
// server's answer.
import { limits } from '@uckpt/engine/config';
import { type FormEvent, useCallback, useEffect, useId, useState } from 'react';
import { CartesianGrid, ComposedChart, Line, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { ApiError } from '../api/client.ts';
import type { Availability, CheckpointSettings } from '../api/types.ts';
import { canMutate, useSession } from '../app-context.ts';
import { fmtNum } from '../format.ts';
import { useColorScheme } from '../telemetry/hooks.ts';
import { palettes } from './TimeChart.tsx';

/** The model's inputs move with minute summaries: re-asking more often shows nothing new. */
const refreshMs = 30_000;

/** 0.99982 -> "99.982 %": enough digits to tell the nines apart. */
export function fmtAvailability(a: number): string {
  const digits = a >= 0.9999 ? 4 : a >= 0.999 ? 3 : 2;
  return `${(a * 100).toFixed(digits)} %`;
}

/** Seconds per year as the unit an operator would say. */
export function fmtDowntime(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(0)} s/year`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(0)} min/year`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h/year`;
  return `${(seconds / 86_400).toFixed(1)} days/year`;
}

export function budgetProblem(text: string): string | null {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) return 'Enter a number.';
  if (v < limits.overheadBudgetPct.min || v > limits.overheadBudgetPct.max) return `Must be from ${limits.overheadBudgetPct.min} to ${limits.overheadBudgetPct.max} %.`;
  return null;
}

export function AvailabilityPanel({ vmId, settings: inForce }: { vmId: string; settings: CheckpointSettings }) {
  const { intervalMs, autoTune } = inForce;
  const { api, store, role } = useSession();
  const id = useId();
  const scheme = useColorScheme();
  const [budget, setBudget] = useState(String(inForce.overheadBudgetPct));
  const [model, setModel] = useState<Availability | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [applying, setApplying] = useState(false);
  const [answer, setAnswer] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const budgetErr = budgetProblem(budget);
  const budgetPct = budgetErr ? inForce.overheadBudgetPct : Number(budget);

  const load = useCallback(async () => {
    try {
      setModel(await api.availability(vmId, budgetPct));
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [api, vmId, budgetPct]);

  // Asked again when the interval in force changes: the model takes it from the VM.
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), refreshMs);
    return () => clearInterval(timer);
  }, [load, intervalMs]);

  const recommended = model?.recommendedIntervalMs ?? null;
  const applicable = recommended !== null && recommended !== intervalMs && recommended >= limits.intervalMs.min && recommended <= limits.intervalMs.max;

  /** Sends a settings change; what the panel then says comes from the server's answer. */
  async function change(patch: Partial<CheckpointSettings>, confirm: (settings: CheckpointSettings) => string) {
    setApplying(true);
    try {
      const { settings } = await api.configure(vmId, patch);
      const current = store.vm(vmId);
      if (current) store.upsertVm({ ...current, settings });
      store.publish();
      setAnswer({ kind: 'ok', text: confirm(settings) });
    } catch (err) {
      setAnswer({ kind: 'error', text: err instanceof ApiError ? `Refused: ${err.message}` : String(err) });
    } finally {
      setApplying(false);
    }
  }

  async function apply(e: FormEvent) {
    e.preventDefault();
    if (!applicable) return;
    await change({ intervalMs: recommended }, (s) => `Applied: the interval is now ${s.intervalMs} ms.`);
  }

  async function setAutoTune(on: boolean) {
    if (budgetErr) return;
    await change({ autoTune: on, overheadBudgetPct: budgetPct }, (s) =>
      s.autoTune
        ? `Auto-tune is on: the interval follows the model within ${s.overheadBudgetPct} % overhead (now ${s.intervalMs} ms).`
        : `Auto-tune is off: the interval stays at ${s.intervalMs} ms.`,
    );
  }

  const pal = palettes[scheme];
  const color = (i: number) => pal.series[i % pal.series.length]!;
  const points = model?.curve.map((p) => ({ ...p, availabilityPct: p.availability * 100 })) ?? [];
  return (
    <section aria-labelledby={`${id}-h`} className="card availability" data-testid="availability">
      <h2 id={`${id}-h`}>Availability model</h2>
      {error && <p className="result-error">The model could not be evaluated: {error}</p>}
      {!model && !error && <p className="muted">Evaluating…</p>}
      {model && (
        <>
          <dl className="stats">
            <div>
              <dt>Availability now</dt>
              <dd data-testid="availability-now">{fmtAvailability(model.availability)}</dd>
            </div>
            <div>
              <dt>Unprotected</dt>
              <dd>{fmtAvailability(model.unprotectedAvailability)}</dd>
            </div>
            <div>
              <dt>Downtime</dt>
              <dd>{fmtDowntime(model.downtimeSecondsPerYear)}</dd>
            </div>
            <div>
              <dt>Overhead at {intervalMs} ms</dt>
              <dd>{fmtNum(model.overheadPct, 2)} %</dd>
            </div>
            <div>
              <dt>Recommended interval</dt>
              <dd data-testid="availability-recommended">{recommended === null ? 'none within budget' : `${recommended} ms`}</dd>
            </div>
          </dl>
          <div className="chart-card" role="img" aria-label={`Availability and overhead against the checkpoint interval; now ${intervalMs} ms, recommended ${recommended ?? 'none'}`}>
            <ResponsiveContainer width="100%" height={220}>
              <ComposedChart data={points} margin={{ top: 18, right: 10, bottom: 14, left: 4 }}>
                <CartesianGrid stroke={pal.grid} strokeDasharray="3 3" vertical={false} />
                <XAxis
                  dataKey="intervalMs"
                  type="number"
                  scale="log"
                  domain={['dataMin', 'dataMax']}
                  stroke={pal.axis}
                  fontSize={11}
                  label={{ value: 'checkpoint interval (ms, log scale)', position: 'insideBottom', dy: 12, fill: pal.axis, fontSize: 11 }}
                />
                <YAxis
                  yAxisId="a"
                  stroke={pal.axis}
                  fontSize={11}
                  width={72}
                  domain={['dataMin', 100]}
                  tickFormatter={(v: number) => v.toFixed(2)}
                  label={{ value: 'availability %', angle: -90, position: 'insideLeft', fill: pal.axis, fontSize: 11, dy: 40 }}
                />
                <YAxis
                  yAxisId="o"
                  orientation="right"
                  stroke={pal.axis}
                  fontSize={11}
                  width={48}
                  tickFormatter={(v: number) => `${fmtNum(v, 1)}`}
                  label={{ value: 'overhead %', angle: 90, position: 'insideRight', fill: pal.axis, fontSize: 11, dy: -30 }}
                />
                <Tooltip
                  isAnimationActive={false}
                  labelFormatter={(v) => `${String(v)} ms`}
                  formatter={(value, name) => [`${Number(value).toFixed(name === 'availability' ? 4 : 2)} %`, String(name)]}
                />
                <ReferenceLine yAxisId="o" y={model.overheadBudgetPct} stroke={color(4)} strokeDasharray="4 3" label={{ value: 'budget', fill: pal.axis, fontSize: 10 }} />
                <ReferenceLine yAxisId="a" x={intervalMs} stroke={pal.axis} label={{ value: 'now', fill: pal.axis, fontSize: 10, position: 'top' }} />
                {recommended !== null && (
                  <ReferenceLine yAxisId="a" x={recommended} stroke={color(2)} strokeDasharray="4 3" label={{ value: 'recommended', fill: pal.axis, fontSize: 10, position: 'insideTopRight' }} />
                )}
                <Line yAxisId="a" dataKey="availabilityPct" name="availability" stroke={color(0)} dot={false} strokeWidth={1.8} isAnimationActive={false} />
                <Line yAxisId="o" dataKey="overheadPct" name="overhead" stroke={color(1)} dot={false} strokeWidth={1.4} isAnimationActive={false} />
              </ComposedChart>
            </ResponsiveContainer>
          </div>
          <p className="hint">
            Parameters: {Object.entries(model.parameters).filter(([, p]) => p.source === 'measured').map(([name]) => name).join(', ') || 'none'} measured
            from this VM, the rest the model's defaults (GET /api/model/availability lists them).
          </p>
        </>
      )}
      <form onSubmit={apply} noValidate className="btn-row">
        <div className="field">
          <label htmlFor={`${id}-b`}>Overhead budget (%)</label>
          <input
            id={`${id}-b`}
            inputMode="decimal"
            value={budget}
            aria-invalid={budgetErr ? true : undefined}
            aria-describedby={`${id}-b-h`}
            onChange={(e) => { setBudget(e.target.value); setAnswer(null); }}
          />
          <span id={`${id}-b-h`} className={budgetErr ? 'field-error' : 'hint'}>{budgetErr ?? 'The recommendation stays within it.'}</span>
        </div>
        {canMutate(role) && (
          <button type="submit" className="btn-primary" disabled={!applicable || applying || !!budgetErr || autoTune}>
            {applying ? 'Applying…' : recommended !== null ? `Apply ${recommended} ms` : 'Apply'}
          </button>
        )}
        {canMutate(role) ? (
          <label className="inline-field">
            <input
              type="checkbox"
              data-testid="auto-tune"
              checked={autoTune}
              disabled={applying || !!budgetErr}
              onChange={(e) => void setAutoTune(e.target.checked)}
            />{' '}
            Auto-tune the interval
          </label>
        ) : (
          <p className="muted" data-testid="auto-tune-state">Auto-tune is {autoTune ? `on (budget ${inForce.overheadBudgetPct} %)` : 'off'}.</p>
        )}
      </form>
      {autoTune && budgetPct !== inForce.overheadBudgetPct && canMutate(role) && (
        <p className="hint">Auto-tune keeps {inForce.overheadBudgetPct} %; switch it off and on to make it keep {budgetPct} %.</p>
      )}
      {answer && <p className={answer.kind === 'ok' ? 'result-ok' : 'result-error'} role="status">{answer.text}</p>}
    </section>
  );
}
