// The validation's table: measured against modelled availability, then the
// parameters the model was fed and where each came from.
import { injectionsByKind, type Comparison, type RunRecord } from './fit.js';

const pct = (value: number, digits = 2) => `${(value * 100).toFixed(digits)} %`;
const signedPct = (value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)} %`;

export function formatValidation(run: RunRecord, comparison: Comparison): string {
  const { measured, model, relativeDifference, oneDetector, parameters, sources, detectors } = comparison;
  const detected = run.injections.filter((i) => i.detectionLatencyMs !== undefined).length;
  const recovered = run.injections.filter((i) => i.recovered).length;
  const lines = [
    `protected ${run.protectedSeconds} s at ${run.intervalMs} ms, retention ${run.retention}: ${run.injections.length} faults injected, ${detected} detected, ${recovered} recovered${run.failure ? `; the VM FAILED: ${run.failure}` : ''}`,
    `unprotected rate ${run.unprotectedRates.map((r) => r.toFixed(1)).join(' before, ')}${run.unprotectedRates.length > 1 ? ' after' : ''} units/s calibrated, ${measured.referenceRate.toFixed(1)} from the run's fault-free stretches${run.cleanStretches ? ` (${run.cleanStretches.seconds.toFixed(0)} s)` : ''}; ${run.unitsKept} units kept`,
    '',
    '|                 | availability | unavailability |',
    '|-----------------|--------------|----------------|',
    `| measured        | ${pct(measured.availability).padStart(12)} | ${pct(measured.unavailability).padStart(14)} |`,
    `| model           | ${pct(model.availability).padStart(12)} | ${pct(model.unavailability).padStart(14)} |`,
    `| model/measured  | ${signedPct(relativeDifference.availability).padStart(12)} | ${signedPct(relativeDifference.unavailability).padStart(14)} |`,
    '',
    `measured against the calibrations before and after instead: ${pct(measured.calibrated.availability)} (model ${signedPct((model.availability - measured.calibrated.availability) / measured.calibrated.availability)})`,
    `one detector (mean latency and bound): model ${pct(oneDetector.availability)}, ${signedPct(oneDetector.relativeDifference)} against measured`,
    `lost per fault: ${measured.lostSecondsPerFault === null ? '-' : `${measured.lostSecondsPerFault.toFixed(2)} s`} measured`,
    '',
    'faults: ' + Object.entries(injectionsByKind(run)).map(([kind, k]) => `${kind} ${k.detected}/${k.injected} detected${k.masked ? ` (${k.masked} masked)` : ''}${k.meanLatencyMs === null ? '' : ` (mean ${k.meanLatencyMs.toFixed(0)} ms)`}`).join(', '),
    'detectors: ' + detectors.map((d) => `${d.name} ${d.detected} (latency ${formatNumber(d.detectionLatencyMs)} ms, Erlang-${d.latencyShape}, bound ${formatNumber(d.latencyBoundMs)} ms)`).join(', '),
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
