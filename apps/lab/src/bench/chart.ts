// The benchmark's chart: geometric-mean overhead against the checkpoint
// interval, one line per mode, as a self-contained SVG (no dependency).
export interface ChartLine {
  label: string;
  points: { intervalMs: number; overheadPct: number; lowerBound: boolean }[];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Log scales on both axes: intervals span 10x, overheads several orders of magnitude. */
export function overheadChart(lines: ChartLine[], title: string): string {
  const width = 720;
  const height = 440;
  const margin = { left: 70, right: 180, top: 40, bottom: 50 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const points = lines.flatMap((l) => l.points);
  const intervals = [...new Set(points.map((p) => p.intervalMs))].sort((a, b) => a - b);
  // Overheads at or below 0.1 % are drawn at 0.1 % (the log axis has no zero).
  const floorPct = 0.1;
  const ys = points.map((p) => Math.max(floorPct, p.overheadPct));
  const yMin = 10 ** Math.floor(Math.log10(Math.min(floorPct * 10, ...ys)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(10, ...ys)));
  const xMin = Math.min(...intervals, 10);
  const xMax = Math.max(...intervals, 100);
  const x = (ms: number) => margin.left + ((Math.log10(ms) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin) || 1)) * plotW;
  const y = (pct: number) =>
    margin.top + plotH - ((Math.log10(Math.max(floorPct, pct)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotH;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${margin.left}" y="22" font-size="14" font-weight="bold">${escape(title)}</text>`);
  for (let decade = yMin; decade <= yMax; decade *= 10) {
    const yy = y(decade).toFixed(1);
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    out.push(`<text x="${margin.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle">${decade >= 1 ? decade : decade.toFixed(1)} %</text>`);
  }
  for (const ms of intervals) {
    const xx = x(ms).toFixed(1);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#eee"/>`);
    out.push(`<text x="${xx}" y="${margin.top + plotH + 18}" text-anchor="middle">${ms}</text>`);
  }
  out.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">checkpoint interval (ms, log scale)</text>`);
  out.push(
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">overhead, geometric mean over workloads (%, log scale)</text>`,
  );
  lines.forEach((line, i) => {
    const color = COLORS[i % COLORS.length]!;
    const sorted = [...line.points].sort((a, b) => a.intervalMs - b.intervalMs);
    const path = sorted.map((p, j) => `${j ? 'L' : 'M'}${x(p.intervalMs).toFixed(1)},${y(p.overheadPct).toFixed(1)}`).join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of sorted) {
      const cx = x(p.intervalMs).toFixed(1);
      const cy = y(p.overheadPct).toFixed(1);
      // A lower bound (a run stopped at the slowdown cap) is drawn hollow.
      out.push(`<circle cx="${cx}" cy="${cy}" r="4" fill="${p.lowerBound ? 'white' : color}" stroke="${color}" stroke-width="2">` +
        `<title>${escape(line.label)} ${p.intervalMs} ms: ${p.lowerBound ? '>' : ''}${p.overheadPct.toFixed(1)} %</title></circle>`);
    }
    const ly = margin.top + 10 + i * 20;
    out.push(`<line x1="${margin.left + plotW + 16}" x2="${margin.left + plotW + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${margin.left + plotW + 46}" y="${ly}" dominant-baseline="middle">${escape(line.label)}</text>`);
  });
  const legendY = margin.top + 10 + lines.length * 20 + 10;
  out.push(`<text x="${margin.left + plotW + 16}" y="${legendY}" font-size="10" fill="#555">hollow: lower bound</text>`);
  out.push(`<text x="${margin.left + plotW + 16}" y="${legendY + 13}" font-size="10" fill="#555">(slowdown cap hit)</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
