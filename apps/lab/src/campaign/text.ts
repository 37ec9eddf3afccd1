// The campaign's report as plain text: one row per retention, then the
// classes per fault kind, then what the detectors and rollbacks did.
import type { ClassCounts, RetentionSummary } from './report.js';

const pct = (value: number | null) => (value === null ? '-' : `${(100 * value).toFixed(1)} %`);
const interval = (ci: [number, number] | null) => (ci ? `[${(100 * ci[0]).toFixed(1)}, ${(100 * ci[1]).toFixed(1)}]` : '');
const ms = (value: number) => (value < 10 ? value.toFixed(1) : value.toFixed(0));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

const classColumns = ['injections', 'not act.', 'recovered', 'det. not rec.', 'silent wrong', 'undet. hang'];
const classCells = (c: ClassCounts) => [c.injections, c.notActivated, c.recovered, c.detectedNotRecovered, c.silentWrong, c.undetectedHang].map(String);

export function formatCampaign(summaries: RetentionSummary[]): string {
  let out = table(
    ['retention', ...classColumns, 'coverage', '95 % CI', 'detect p50/p99 ms', 'recover p50/p99 ms', 'past newest'],
    summaries.map((s) => [
      String(s.retention),
      ...classCells(s),
      pct(s.coverage),
      interval(s.coverageCi95),
      `${ms(s.detectionLatencyMs.p50)} / ${ms(s.detectionLatencyMs.p99)}`,
      `${ms(s.recoveryMs.p50)} / ${ms(s.recoveryMs.p99)}`,
      `${s.beyondNewest.rollbacks} of ${s.recoveryRollbacks}`,
    ]),
  );
  out += 'coverage = recovered / detected (Wilson 95 % interval); past newest = recovery rollbacks to a checkpoint older than the newest retained\n';

  for (const s of summaries) {
    out += `\nretention ${s.retention}, by fault kind:\n`;
    out += table(['kind', ...classColumns], Object.entries(s.byKind).map(([kind, counts]) => [kind, ...classCells(counts)]));
    const detectors = Object.entries(s.byDetector).map(
      ([name, d]) => `${name} ${d.count} (p50 ${ms(d.latencyMs.p50)} ms, p99 ${ms(d.latencyMs.p99)} ms)`,
    );
    out += `first detections: ${detectors.join('; ') || 'none'}\n`;
    out += `detection coverage (detected / activated): ${pct(s.detectionCoverage.value)} ${interval(s.detectionCoverage.ci95)}\n`;
    const why = Object.entries(s.beyondNewest.why).filter(([, n]) => n > 0).map(([reason, n]) => `${reason} ${n}`);
    out +=
      `recovery rollbacks: ${s.recoveryRollbacks}, restore p50 ${ms(s.restoreMs.p50)} ms / p99 ${ms(s.restoreMs.p99)} ms; ` +
      `past the newest checkpoint: ${s.beyondNewest.rollbacks}${why.length ? ` (${why.join(', ')}; up to ${s.beyondNewest.checkpointsSkipped.max} skipped)` : ''}; ` +
      `to a checkpoint taken after the fault: ${s.rollbacksToFaultyCheckpoint}\n`;
    if (s.detectedWrongResult) out += `DETECTED BUT WRONG RESULT: ${s.detectedWrongResult} runs finished with a wrong checksum after recovery\n`;
    if (s.notInjected) out += `not injected (the run ended first, or the primitive refused): ${s.notInjected}\n`;
    if (s.falseAlarms) out += `false alarms (alerts before the injection): ${s.falseAlarms}\n`;
  }
  return out;
}
