// Plain-text rendering of the benchmark rows: two-line headers, numbers
// right-aligned, blanks where a column does not apply.
import type { BenchRow, GeomeanRow } from './summary.js';

interface Column {
  title: [string, string];
  align: 'left' | 'right';
  cell: (row: BenchRow) => string;
}

const fixed = (digits: number) => (value: number | null) => (value === null ? '' : value.toFixed(digits));
const signed = (value: number | null) => (value === null ? '' : `${value >= 0 ? '+' : ''}${value.toFixed(1)}`);
const pages = (value: number | null) => (value === null ? '' : value.toFixed(value < 100 ? 1 : 0));

const columns: Column[] = [
  { title: ['workload', ''], align: 'left', cell: (r) => r.workload },
  { title: ['mode', ''], align: 'left', cell: (r) => r.mode },
  { title: ['interval', 'ms'], align: 'right', cell: (r) => fixed(0)(r.intervalMs) },
  { title: ['copy', 'threads'], align: 'right', cell: (r) => fixed(0)(r.copyThreads) },
  { title: ['runtime', 's'], align: 'right', cell: (r) => r.runtimeS.toFixed(2) },
  { title: ['overhead', '%'], align: 'right', cell: (r) => signed(r.overheadPct) },
  { title: ['epochs', ''], align: 'right', cell: (r) => fixed(0)(r.epochs) },
  { title: ['pause', 'p50 us'], align: 'right', cell: (r) => fixed(0)(r.pauseP50Us) },
  { title: ['pause', 'p99 us'], align: 'right', cell: (r) => fixed(0)(r.pauseP99Us) },
  { title: ['dirty pages', 'per epoch'], align: 'right', cell: (r) => pages(r.dirtyPagesPerEpoch) },
  { title: ['store max', 'MiB'], align: 'right', cell: (r) => fixed(1)(r.storeMaxMiB) },
  { title: ['rollback', 'p50 us'], align: 'right', cell: (r) => fixed(0)(r.rollbackP50Us) },
  { title: ['rollback', 'p99 us'], align: 'right', cell: (r) => fixed(0)(r.rollbackP99Us) },
  { title: ['pages per', 'rollback'], align: 'right', cell: (r) => pages(r.pagesRestoredPerRollback) },
];

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
