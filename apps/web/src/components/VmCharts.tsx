import { memo, useId, useState } from 'react';
import { fmtNum } from '../format.ts';
import { type ChartWindow, windows } from '../telemetry/series.ts';
import { type ChartSpec, TimeChart } from './TimeChart.tsx';

const num = (d: number) => (v: number) => fmtNum(v, d);

export const chartSpecs: ChartSpec[] = [
  { id: 'dirty', title: 'Dirty pages', unit: 'pages/epoch', note: 'mean per epoch in each bucket', lines: [{ key: 'dirty', name: 'dirty', color: 0 }], format: num(0) },
  {
    id: 'pause',
    title: 'Pause time',
    unit: 'ms',
    note: 'p50 line, p50–p99 band, over the epochs in each bucket',
    lines: [{ key: 'pauseP50', name: 'p50', color: 1 }],
    band: { name: 'p50–p99', color: 1 },
    format: (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)),
  },
  { id: 'overhead', title: 'Overhead', unit: '%', note: 'guest slowdown against its calibrated unprotected rate', lines: [{ key: 'overhead', name: 'overhead', color: 4 }], format: (v) => `${fmtNum(v, 1)}%` },
  { id: 'faults', title: 'Write faults', unit: 'faults/epoch', note: 'mean per epoch in each bucket', lines: [{ key: 'faults', name: 'faults', color: 3 }], format: num(0) },
  {
    id: 'prediction',
    title: 'Prediction',
    unit: '%',
    note: 'dirty-page prediction precision and recall, mean per epoch',
    lines: [
      { key: 'precision', name: 'precision', color: 0 },
      { key: 'recall', name: 'recall', color: 2 },
    ],
    domain: [0, 100],
    format: (v) => `${fmtNum(v, 0)}%`,
  },
  { id: 'store', title: 'Store memory', unit: 'MiB', note: 'checkpoint store size at the end of each bucket', lines: [{ key: 'storeMiB', name: 'store', color: 2 }], format: num(1) },
  { id: 'progress', title: 'Guest progress', unit: 'units/s', note: 'workload units per second, mean per epoch', lines: [{ key: 'progressRate', name: 'rate', color: 0 }], format: num(1) },
  {
    id: 'late',
    title: 'Checkpoints late',
    unit: 'ms',
    note: 'how long due checkpoints waited past their time, summed over each bucket (e.g. while fresh store memory is backed)',
    lines: [{ key: 'lateMs', name: 'late', color: 3 }],
    format: num(0),
  },
  { id: 'epochs', title: 'Epoch rate', unit: 'epochs/s', note: 'checkpoint epochs completed per second', lines: [{ key: 'epochRate', name: 'epochs', color: 1 }], format: num(1) },
];

export const VmCharts = memo(function VmCharts({ vmId, stale }: { vmId: string; stale: boolean }) {
  const [win, setWin] = useState<ChartWindow>('1m');
  const id = useId();
  return (
    <section aria-labelledby={`${id}-h`} className="charts-section">
      <div className="section-head">
        <h2 id={`${id}-h`}>Live charts</h2>
        <fieldset className="segmented" data-testid="window-select">
          <legend className="sr-only">Time window</legend>
          {(Object.keys(windows) as ChartWindow[]).map((w) => (
            <label key={w} className={win === w ? 'on' : ''}>
              <input type="radio" name={`${id}-win`} value={w} checked={win === w} onChange={() => setWin(w)} />
              {windows[w].label}
            </label>
          ))}
        </fieldset>
      </div>
      <div className="chart-grid">
        {chartSpecs.map((s) => (
          <TimeChart key={s.id} vmId={vmId} spec={s} window={win} stale={stale} />
        ))}
      </div>
    </section>
  );
});
