// The campaign's chart: for each fault kind, one horizontal bar per
// retention showing the share of each outcome class, as a self-contained
// SVG (no dependency), in the manner of the benchmark's chart.
import type { ClassCounts, RetentionSummary } from './report.js';

const classes: { field: keyof ClassCounts; label: string; color: string }[] = [
  { field: 'notActivated', label: 'not activated', color: '#c7c7c7' },
  { field: 'recovered', label: 'detected, recovered', color: '#2ca02c' },
  { field: 'detectedNotRecovered', label: 'detected, not recovered', color: '#ff7f0e' },
  { field: 'silentWrong', label: 'undetected, wrong result', color: '#d62728' },
  { field: 'undetectedHang', label: 'undetected hang', color: '#9467bd' },
];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function outcomeChart(summaries: RetentionSummary[], title: string): string {
  const kinds = [...new Set(summaries.flatMap((s) => Object.keys(s.byKind)))];
  const groups = [...kinds.map((kind) => ({ label: kind, of: (s: RetentionSummary) => s.byKind[kind as keyof typeof s.byKind] })), { label: 'all', of: (s: RetentionSummary) => s as ClassCounts }];
  const bar = 16;
  const gap = 10;
  const margin = { left: 150, right: 30, top: 44, bottom: 86 + 16 * summaries.length };
  const plotW = 560;
  const groupH = summaries.length * (bar + 3) + gap;
  const height = margin.top + groups.length * groupH + margin.bottom;
  const width = margin.left + plotW + margin.right;
  const x = (share: number) => margin.left + share * plotW;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="20" y="24" font-size="14" font-weight="bold">${escape(title)}</text>`);
  for (let tick = 0; tick <= 100; tick += 25) {
    const xx = x(tick / 100).toFixed(1);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${margin.top - 4}" y2="${height - margin.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${xx}" y="${height - margin.bottom + 16}" text-anchor="middle">${tick} %</text>`);
  }
  groups.forEach((group, g) => {
    const top = margin.top + g * groupH;
    out.push(`<text x="${margin.left - 70}" y="${top + (summaries.length * (bar + 3)) / 2}" text-anchor="end" dominant-baseline="middle" font-weight="bold">${escape(group.label)}</text>`);
    summaries.forEach((summary, r) => {
      const counts = group.of(summary);
      const y = top + r * (bar + 3);
      out.push(`<text x="${margin.left - 6}" y="${y + bar / 2}" text-anchor="end" dominant-baseline="middle" font-size="10">K=${summary.retention}</text>`);
      if (!counts || counts.injections === 0) return;
      let at = 0;
      for (const c of classes) {
        const share = counts[c.field] / counts.injections;
        if (share === 0) continue;
        out.push(
          `<rect x="${x(at).toFixed(1)}" y="${y}" width="${(share * plotW).toFixed(1)}" height="${bar}" fill="${c.color}">` +
            `<title>${escape(`${group.label}, retention ${summary.retention}: ${c.label} ${counts[c.field]} of ${counts.injections}`)}</title></rect>`,
        );
        at += share;
      }
    });
  });
  const legendY = height - margin.bottom + 36;
  let legendX = 20;
  for (const c of classes) {
    out.push(`<rect x="${legendX}" y="${legendY - 9}" width="12" height="12" fill="${c.color}"/>`);
    out.push(`<text x="${legendX + 16}" y="${legendY}" font-size="11">${escape(c.label)}</text>`);
    legendX += 16 + c.label.length * 5.8 + 14;
  }
  out.push(`<text x="20" y="${legendY + 24}" font-size="11" fill="#555">share of injections per fault kind; K = checkpoints retained; coverage = recovered / detected, Wilson 95 % interval:</text>`);
  summaries.forEach((s, i) => {
    const value = s.coverage === null ? '-' : `${(100 * s.coverage).toFixed(1)} %`;
    const ci = s.coverageCi95 ? ` [${(100 * s.coverageCi95[0]).toFixed(1)}, ${(100 * s.coverageCi95[1]).toFixed(1)}]` : '';
    out.push(`<text x="20" y="${legendY + 42 + 16 * i}" fill="#333">K=${s.retention}: coverage ${value}${ci} (${s.recovered} of ${s.detected} detected)</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
