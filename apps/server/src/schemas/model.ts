import { availabilityParameterLimits, type AvailabilityParameters } from '@uckpt/engine';
import { Type } from 'typebox';

const descriptions: Record<keyof AvailabilityParameters, string> = {
  errorRatePerHour: 'Errors reaching the VM per hour of execution',
  maskedFraction: 'Share of errors that have no effect and cost nothing (0..1)',
  coverage: 'Fraction of the errors with an effect that the detectors catch (0..1)',
  detectionLatencyMs: 'Mean time from an error to its detection, ms',
  latencyShape: 'Detection latency as Erlang with this many phases (1 = exponential)',
  latencyBoundMs: "The detectors' latency bound: recovery rolls back to the newest checkpoint taken before detection - this, ms",
  intervalMs: 'Checkpoint interval, ms',
  checkpointOverheadMs: 'Fixed guest time per checkpoint (pause, harvest, re-arm), ms',
  dirtyPagesPerSecond: 'Pages the workload writes per second',
  copyUsPerPage: 'Guest time per page dirtied in an epoch (copy, or fault and copy), µs',
  workingSetPages: 'Distinct pages the workload writes at most; 0 = unbounded',
  rollbackMs: 'Time to roll back to a retained checkpoint, ms',
  retention: 'Checkpoints retained (K)',
  repairSeconds: 'Time to bring a failed VM back (repair or restart), s',
};

/** Optional, within the model's range; the query string's text is coerced to a number first. */
function parameter(name: keyof AvailabilityParameters) {
  const limit: { min: number; max: number; integer?: boolean } = availabilityParameterLimits[name];
  const options = { minimum: limit.min, maximum: limit.max, description: descriptions[name] };
  return Type.Optional(limit.integer ? Type.Integer(options) : Type.Number(options));
}

export const AvailabilityQuery = Type.Object(
  {
    errorRatePerHour: parameter('errorRatePerHour'),
    maskedFraction: parameter('maskedFraction'),
    coverage: parameter('coverage'),
    detectionLatencyMs: parameter('detectionLatencyMs'),
    latencyShape: parameter('latencyShape'),
    latencyBoundMs: parameter('latencyBoundMs'),
    intervalMs: parameter('intervalMs'),
    checkpointOverheadMs: parameter('checkpointOverheadMs'),
    dirtyPagesPerSecond: parameter('dirtyPagesPerSecond'),
    copyUsPerPage: parameter('copyUsPerPage'),
    workingSetPages: parameter('workingSetPages'),
    rollbackMs: parameter('rollbackMs'),
    retention: parameter('retention'),
    repairSeconds: parameter('repairSeconds'),
    overheadBudgetPct: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: 100, description: 'Largest checkpointing overhead the recommendation may cost, % (default 3)' }),
    ),
    vmId: Type.Optional(
      Type.String({ pattern: '^vm-[0-9a-f]{1,32}$', description: "Take this VM's parameters where it reports them, then the overrides" }),
    ),
  },
  { additionalProperties: false },
);

const ParameterSource = Type.Union([Type.Literal('default'), Type.Literal('override'), Type.Literal('measured'), Type.Literal('configured')], {
  description: "default: the model's; override: from the query; measured: reported by the VM named by vmId; configured: from that VM's settings",
});

export const AvailabilityAnswer = Type.Object({
  availability: Type.Number({ description: 'Share of time doing useful (kept) work, 0..1' }),
  unprotectedAvailability: Type.Number({ description: 'The same VM without checkpoints: every error is a repair' }),
  downtimeSecondsPerYear: Type.Number({ description: '(1 - availability) x one year: down, recovering, re-executing, checkpointing' }),
  overheadPct: Type.Number({ description: 'Checkpointing overhead at intervalMs, %' }),
  overheadBudgetPct: Type.Number(),
  recommendedIntervalMs: Type.Union([Type.Integer(), Type.Null()], {
    description: 'The interval maximising availability within the overhead budget; null when no interval is within it',
  }),
  recommendedAvailability: Type.Union([Type.Number(), Type.Null()]),
  curve: Type.Array(Type.Object({ intervalMs: Type.Number(), availability: Type.Number(), overheadPct: Type.Number() })),
  states: Type.Record(Type.String(), Type.Number(), { description: 'Long-run share of time in each state of the model' }),
  parameters: Type.Record(Type.String(), Type.Object({ value: Type.Number(), source: ParameterSource })),
});
