// The validation's table: measured against modelled availability, then the
// parameters the model was fed and where each came from.
import { injectionsByKind, type Comparison, type RunRecord } from './fit.js';

const pct = (value: number, digits = 2) => `${(value * 100).toFixed(digits)} %`;
const signedPct = (value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)} %`;

export function formatValidation(run: RunRecord, comparison: Comparison): string {
  const { measured, model, relativeDifference, parameters, sources } = comparison;
  const detected = run.injections.filter((i) => i.detectionLatencyMs !== undefined).length;
  const recovered = run.injections.filter((i) => i.recovered).length;
  const lines = [
    `protected ${run.protectedSeconds} s at ${run.intervalMs} ms, retention ${run.retention}: ${run.injections.length} faults injected, ${detected} detected, ${recovered} recovered${run.failure ? `; the VM FAILED: ${run.failure}` : ''}`,
    `unprotected rate ${run.unprotectedRates.map((r) => r.toFixed(1)).join(' before, ')}${run.unprotectedRates.length > 1 ? ' after' : ''} units/s; ${run.unitsKept} units kept`,
    '',
    '|                 | availability | unavailability |',
    '|-----------------|--------------|----------------|',
    `| measured        | ${pct(measured.availability).padStart(12)} | ${pct(measured.unavailability).padStart(14)} |`,
    `| model           | ${pct(model.availability).padStart(12)} | ${pct(model.unavailability).padStart(14)} |`,
    `| model/measured  | ${signedPct(relativeDifference.availability).padStart(12)} | ${signedPct(relativeDifference.unavailability).padStart(14)} |`,
    '',
    'faults: ' + Object.entries(injectionsByKind(run)).map(([kind, k]) => `${kind} ${k.detected}/${k.injected} detected${k.meanLatencyMs === null ? '' : ` (mean ${k.meanLatencyMs.toFixed(0)} ms)`}`).join(', '),
    'model time share: ' + Object.entries(model.occupancy).filter(([, share]) => share >= 1e-4).map(([state, share]) => `${state} ${pct(share, 1)}`).join(', '),
    '',
    'parameters:',
    ...Object.entries(parameters).map(([name, value]) => `  ${name.padEnd(22)} ${formatNumber(value).padStart(12)}  ${sources[name as keyof typeof sources]}`),
    '',
  ];
  return `${lines.join('\n')}\n`;
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(4);
}
