// Plain-text rendering of the benchmark rows: two-line headers, numbers
// right-aligned, blanks where a column does not apply.
import type { BenchRow, DirtyTrackingComparison, FloorSummary, GeomeanRow, ModeSummary, SweepCell } from './summary.js';

interface Column {
  title: [string, string];
  align: 'left' | 'right';
  cell: (row: BenchRow) => string;
}

const blank = (value: number | null): value is null => value === null || Number.isNaN(value);
const fixed = (digits: number) => (value: number | null) => (blank(value) ? '' : value.toFixed(digits));
const signed = (value: number | null) => (value === null ? '' : `${value >= 0 ? '+' : ''}${value.toFixed(1)}`);
const pages = (value: number | null) => (blank(value) ? '' : value.toFixed(value < 100 ? 1 : 0));

const columns: Column[] = [
  { title: ['workload', ''], align: 'left', cell: (r) => r.workload },
  { title: ['mode', ''], align: 'left', cell: (r) => r.mode },
  { title: ['intvl', 'ms'], align: 'right', cell: (r) => fixed(0)(r.intervalMs) },
  { title: ['copy', 'thr'], align: 'right', cell: (r) => fixed(0)(r.copyThreads) },
  { title: ['runtime', 's'], align: 'right', cell: (r) => r.runtimeS.toFixed(2) },
  { title: ['overhead', '%'], align: 'right', cell: (r) => (r.capped ? `>${signed(r.overheadPct)}` : signed(r.overheadPct)) },
  { title: ['floor', '%'], align: 'right', cell: (r) => fixed(1)(r.floorPct) },
  { title: ['+track', '%'], align: 'right', cell: (r) => fixed(1)(r.trackingFloorPct) },
  { title: ['epochs', ''], align: 'right', cell: (r) => fixed(0)(r.epochs) },
  { title: ['late', 'ms'], align: 'right', cell: (r) => fixed(0)(r.lateMs) },
  { title: ['pause', 'p50 us'], align: 'right', cell: (r) => fixed(0)(r.pauseP50Us) },
  { title: ['pause', 'p99 us'], align: 'right', cell: (r) => fixed(0)(r.pauseP99Us) },
  { title: ['dirty pg', '/epoch'], align: 'right', cell: (r) => pages(r.dirtyPagesPerEpoch) },
  { title: ['faults', '/epoch'], align: 'right', cell: (r) => pages(r.faultsPerEpoch) },
  { title: ['fault', 'us/ep'], align: 'right', cell: (r) => fixed(0)(r.faultUsPerEpoch) },
  { title: ['copied', '/epoch'], align: 'right', cell: (r) => pages(r.pagesCopiedPerEpoch) },
  { title: ['prec', ''], align: 'right', cell: (r) => fixed(2)(r.precision) },
  { title: ['recall', ''], align: 'right', cell: (r) => fixed(2)(r.recall) },
  { title: ['store', 'MiB'], align: 'right', cell: (r) => fixed(1)(r.storeMaxMiB) },
  { title: ['rollback', 'p50 us'], align: 'right', cell: (r) => fixed(0)(r.rollbackP50Us) },
  { title: ['rollback', 'p99 us'], align: 'right', cell: (r) => fixed(0)(r.rollbackP99Us) },
  { title: ['pages', 'restored'], align: 'right', cell: (r) => pages(r.pagesRestoredPerRollback) },
];

/** What the short mode texts and column titles mean, for under the table. */
export const TABLE_LEGEND =
  'mode: s&c = stop-and-copy, dirty bitmap; cow = copy-on-write (userfaultfd); +NAME = with the NAME dirty-page predictor;\n' +
  's&c ring = KVM dirty rings; (fell back) = cow asked for, stop-and-copy ran; overhead >X: stopped at the slowdown cap\n' +
  'floor: (pages that must be copied per epoch x measured copy cost + fixed pause cost) / interval, from the s&c runs\n' +
  '(the most pages any of them stored per epoch: a guest slowed less by faults writes more);\n' +
  '+track: the floor plus the least that tracking the writes could cost under the dirty log, whatever the prediction\n' +
  '(each page written again g epochs after its last write: a fault, or g - 1 comparisons while hot; first writes free),\n' +
  'from the s&c+cost runs;\n' +
  'late: how long due checkpoints waited past their time over the run (the epoch thread still busy, e.g. backing store frames);\n' +
  'faults/epoch: write faults (s&c: dirty-log faults on written pages not predicted; cow: copy-on-write faults);\n' +
  'fault us/ep: guest time lost to them (cow: measured; s&c: faults x the configured fault cost); copied/epoch: in the pause;\n' +
  'prec: share of predicted pages written; recall: share of written pages predicted; pages restored: per rollback\n';

/** One table, a blank line between workloads. */
export function formatTable(rows: BenchRow[]): string {
  const cells = rows.map((row) => columns.map((c) => c.cell(row)));
  const widths = columns.map((c, i) => Math.max(c.title[0].length, c.title[1].length, ...cells.map((line) => line[i]!.length)));
  const render = (line: string[]) =>
    line
      .map((text, i) => (columns[i]!.align === 'left' ? text.padEnd(widths[i]!) : text.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [render(columns.map((c) => c.title[0])), render(columns.map((c) => c.title[1]))];
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  rows.forEach((row, i) => {
    if (i > 0 && row.workload !== rows[i - 1]!.workload) out.push('');
    out.push(render(cells[i]!));
  });
  return `${out.join('\n')}\n`;
}

export function formatGeomeans(geomeans: GeomeanRow[]): string {
  if (geomeans.length === 0) return '';
  const width = Math.max(...geomeans.map((g) => g.label.length));
  const lines = geomeans.map(
    (g) => `  ${g.label.padEnd(width)}  ${`${g.overheadPct >= 0 ? '+' : ''}${g.overheadPct.toFixed(1)} %`.padStart(9)}  (${g.workloads} workload${g.workloads === 1 ? '' : 's'})`,
  );
  return `geometric mean overhead over the workloads:\n${lines.join('\n')}\n`;
}

/** One line: which dirty tracking is faster at the ring runs' interval, and by how much. */
export function formatDirtyTracking(c: DirtyTrackingComparison | null): string {
  if (!c) return '';
  const head = `dirty tracking at ${c.intervalMs} ms: `;
  if (c.pauseP50Ratio === null || c.ringOverheadPct === null || c.bitmapOverheadPct === null) {
    return `${head}no comparison (no bitmap run at ${c.intervalMs} ms: add ${c.intervalMs} to --intervals)\n`;
  }
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
  const r = c.pauseP50Ratio;
  const verdict =
    Math.abs(r - 1) < 0.005
      ? 'same pauses'
      : r < 1
        ? `ring pauses ${((1 - r) * 100).toFixed(0)}% shorter`
        : `ring pauses ${((r - 1) * 100).toFixed(0)}% longer`;
  const speed = (1 + c.ringOverheadPct / 100) / (1 + c.bitmapOverheadPct / 100);
  const runtime =
    Math.abs(speed - 1) < 0.005
      ? 'same runtime'
      : speed < 1
        ? `ring runs ${((1 - speed) * 100).toFixed(0)}% faster`
        : `ring runs ${((speed - 1) * 100).toFixed(0)}% slower`;
  const unpaired = c.unpaired.length ? `; no bitmap row to pair for ${c.unpaired.join(', ')}` : '';
  return (
    `${head}ring vs bitmap pause p50 ratio (geomean over workloads) ${r.toFixed(2)}, ` +
    `overhead geomean ring ${pct(c.ringOverheadPct)} vs bitmap ${pct(c.bitmapOverheadPct)}\n` +
    `  (over ${c.workloads.join(', ')}: ${verdict}, ${runtime}${unpaired})\n`
  );
}

/** One line per mode: geometric-mean overhead at one interval; then the floors' geomean. */
export function formatModeSummaries(summaries: ModeSummary[], floor: FloorSummary | null): string {
  if (summaries.length === 0) return '';
  const width = Math.max(...summaries.map((s) => s.label.length), 'floor'.length);
  const line = (label: string, lowerBound: boolean, pct: number, note: string) =>
    `  ${label.padEnd(width)}  ${lowerBound ? '>' : ' '}${`${pct >= 0 ? '+' : ''}${pct.toFixed(1)} %`.padStart(9)}  (${note})`;
  const plural = (n: number) => `${n} workload${n === 1 ? '' : 's'}`;
  const lines = summaries.map((s) =>
    line(s.label, s.lowerBound, s.overheadPct, `geomean over ${plural(s.workloads)}${s.lowerBound ? '; some runs hit the slowdown cap' : ''}`),
  );
  if (floor) {
    lines.push(line('floor', false, floor.floorPct, `geomean of the floors of ${plural(floor.workloads)}: below any stop-and-copy mode here`));
    if (floor.trackingFloorPct !== null) {
      lines.push(line('+track', false, floor.trackingFloorPct, 'the same with the least the dirty log must cost in faults or comparisons'));
    }
  }
  return `summary at ${summaries[0]!.intervalMs} ms, per mode:\n${lines.join('\n')}\n`;
}

/** The dirtier sweep as a grid: one line per cell, each mode's overhead, the winner. */
export function formatSweep(cells: SweepCell[], defaultMode: string): string {
  if (cells.length === 0) return '';
  const labels = [...new Set(cells.flatMap((c) => c.overheads.map((o) => o.label)))];
  const withoutPrecopy = cells.some((c) => c.pauseWithoutPrecopyUs);
  const header = ['W MiB', 'P/unit', 'dirty/ep', 'p99', ...labels, 'best', 'pause p50', 'p99', 'p99* ms'];
  if (withoutPrecopy) header.push('no-precopy p50', 'p99 ms');
  const ms = (us: number | undefined) => (us === undefined ? '' : (us / 1000).toFixed(2));
  const body = cells.map((c) => [
    String(c.workingSetMiB),
    String(c.pagesPerUnit),
    pages(c.dirtyPagesPerEpoch),
    pages(c.dirtyPagesP99),
    ...labels.map((label) => {
      const o = c.overheads.find((x) => x.label === label);
      if (!o || o.overheadPct === null) return '';
      return `${o.capped ? '>' : ''}${signed(o.overheadPct)}%`;
    }),
    c.best ?? '',
    ms(c.pauseUs?.p50),
    ms(c.pauseUs?.p99),
    ms(c.pauseUs?.usualP99),
    ...(withoutPrecopy ? [ms(c.pauseWithoutPrecopyUs?.p50), ms(c.pauseWithoutPrecopyUs?.p99)] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  const render = (line: string[]) => line.map((t, i) => t.padStart(widths[i]!)).join('  ');
  return (
    `dirtier sweep at 50 ms (working set W x pages dirtied per ~1 ms unit P): overhead per mode; ` +
    `dirty pages and pauses of ${defaultMode} (p99*: over the epochs that dirtied at most twice the median` +
    `${withoutPrecopy ? '; no-precopy: the same mode not copying ahead' : ''})\n` +
    `${[render(header), ...body.map(render)].join('\n')}\n`
  );
}
