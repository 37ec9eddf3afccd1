// One live chart: a card with a title, the latest value, and a Recharts plot
// of bucketed points. Off-screen or in a hidden tab it stops re-rendering.
import { memo, useRef } from 'react';
import { Area, CartesianGrid, ComposedChart, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useSession } from '../app-context.ts';
import { fmtClock } from '../format.ts';
import { useColorScheme, useThrottledVersion, useVisible } from '../telemetry/hooks.ts';
import { type BucketColumn, type ChartPoint, type ChartWindow, windows } from '../telemetry/series.ts';

export interface SeriesSpec {
  key: BucketColumn;
  name: string;
  color: number; // palette index
}

export interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  /** What one point is, for the tooltip and screen readers. */
  note: string;
  lines: SeriesSpec[];
  band?: { name: string; color: number };
  domain?: [number, number];
  format: (v: number) => string;
}

export const palettes = {
  light: { grid: '#d8dce3', axis: '#5b6472', series: ['#2563eb', '#d97706', '#059669', '#c026d3', '#dc2626'] },
  dark: { grid: '#2f3743', axis: '#9aa4b2', series: ['#60a5fa', '#fbbf24', '#34d399', '#e879f9', '#f87171'] },
};

interface TipProps {
  active?: boolean;
  payload?: ReadonlyArray<{ name?: unknown; value?: unknown; color?: string; dataKey?: unknown }>;
  label?: unknown;
}

function ChartTooltip({ active, payload, label, spec }: TipProps & { spec: ChartSpec }) {
  if (!active || !payload || payload.length === 0) return null;
  return (
    <div className="chart-tip">
      <div className="chart-tip-time">{typeof label === 'number' ? fmtClock(label) : ''}</div>
      {payload.map((p, i) => {
        const v = p.value;
        const text = Array.isArray(v)
          ? `${spec.format(Number(v[0]))} – ${spec.format(Number(v[1]))}`
          : typeof v === 'number'
            ? spec.format(v)
            : '–';
        return (
          <div key={i}>
            <span className="swatch" style={{ background: p.color }} /> {String(p.name)}:{' '}
            <strong>
              {text}
              {spec.unit === '%' || text === '–' ? '' : ` ${spec.unit}`}
            </strong>
          </div>
        );
      })}
      <div className="chart-tip-note">{spec.note}</div>
    </div>
  );
}

/** Round-time ticks every `step` ms inside [from, to]. */
function ticks(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) out.push(t);
  return out;
}

const Plot = memo(function Plot({
  spec,
  points,
  from,
  to,
  window,
  scheme,
}: {
  spec: ChartSpec;
  points: ChartPoint[];
  from: number;
  to: number;
  window: ChartWindow;
  scheme: 'light' | 'dark';
}) {
  const w = windows[window];
  const pal = palettes[scheme];
  const color = (i: number) => pal.series[i % pal.series.length]!;
  return (
    <ResponsiveContainer width="100%" height={170}>
      <ComposedChart data={points} margin={{ top: 6, right: 10, bottom: 0, left: 4 }}>
        <CartesianGrid stroke={pal.grid} strokeDasharray="3 3" vertical={false} />
        <XAxis
          dataKey="t"
          type="number"
          scale="time"
          domain={[from, to]}
          allowDataOverflow
          ticks={ticks(from, to, w.tickMs)}
          tickFormatter={fmtClock}
          stroke={pal.axis}
          fontSize={11}
          minTickGap={40}
        />
        <YAxis
          stroke={pal.axis}
          fontSize={11}
          width={64}
          domain={spec.domain ?? [0, 'auto']}
          tickFormatter={(v: number) => spec.format(v)}
          label={{ value: spec.unit, angle: -90, position: 'insideLeft', fill: pal.axis, fontSize: 11, dx: -2, dy: 30 }}
        />
        <Tooltip content={<ChartTooltip spec={spec} />} isAnimationActive={false} />
        {spec.band && (
          <Area
            dataKey="pauseBand"
            name={spec.band.name}
            stroke="none"
            fill={color(spec.band.color)}
            fillOpacity={0.25}
            isAnimationActive={false}
            connectNulls={false}
            activeDot={false}
          />
        )}
        {spec.lines.map((l) => (
          <Line
            key={l.key}
            dataKey={l.key}
            name={l.name}
            stroke={color(l.color)}
            strokeWidth={1.6}
            dot={false}
            isAnimationActive={false}
            connectNulls={false}
            type="linear"
          />
        ))}
      </ComposedChart>
    </ResponsiveContainer>
  );
});

// Memoized: a parent re-rendering with the same props must not re-render the
// chart; only its own throttled subscription does.
export const TimeChart = memo(function TimeChart({ vmId, spec, window, stale }: { vmId: string; spec: ChartSpec; window: ChartWindow; stale: boolean }) {
  const { store } = useSession();
  const ref = useRef<HTMLElement>(null);
  const visible = useVisible(ref);
  const w = windows[window];
  // Buckets are 1 s (1 min window) or 10 s (10 min) wide: the 1 min chart re-renders once a
  // second, the 10 min one every 2.5 s (its open bucket still grows visibly).
  useThrottledVersion(store, visible, Math.min(w.bucketMs, 2500));
  const series = store.series(vmId);
  const to = store.serverNow();
  const from = to - w.spanMs;
  const points = series.points(window, to);
  const lastPoint = points.at(-1);
  const latest = spec.lines
    .map((l) => {
      const v = lastPoint?.[l.key];
      return `${l.name} ${typeof v === 'number' ? spec.format(v) : '–'}`;
    })
    .join(' · ');
  const scheme = useColorScheme();
  return (
    <figure ref={ref} className={`chart card ${stale ? 'stale' : ''}`} data-testid={`chart-${spec.id}`} data-points={points.length}>
      <figcaption>
        <span className="chart-title">{spec.title}</span>
        <span className="chart-latest" aria-live="off">
          {latest} {spec.unit !== '%' ? spec.unit : ''}
        </span>
      </figcaption>
      <div className="chart-body" role="img" aria-label={`${spec.title} in ${spec.unit} over the last ${w.label}; ${spec.note}. Latest: ${latest}`}>
        <Plot spec={spec} points={points} from={from} to={to} window={window} scheme={scheme} />
      </div>
    </figure>
  );
});
