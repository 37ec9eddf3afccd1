import { faultKinds, faultLimits, faultRegisters, memoryRegions } from '@uckpt/engine';
import { Type } from 'typebox';

const literals = (values: readonly string[], description: string) => Type.Union(values.map((v) => Type.Literal(v)), { description });
const integer = (range: { min: number; max: number }, description: string) => Type.Integer({ minimum: range.min, maximum: range.max, description });

export const FaultBody = Type.Object(
  {
    kind: literals(faultKinds, 'bit-flip: guest memory; register: a vCPU register; hang; crash; checkpoint-page: a stored copy of a page in a checkpoint'),
    region: Type.Optional(literals(memoryRegions, "bit-flip: which part of the workload's memory (default data)")),
    page: Type.Optional(integer(faultLimits.page, 'bit-flip: a page within the region; checkpoint-page: the guest page whose stored copy is corrupted')),
    bits: Type.Optional(integer(faultLimits.bits, 'bit-flip and register: bits to flip (default 1)')),
    register: Type.Optional(literals(faultRegisters, 'register: which one (default chosen by the seed)')),
    seq: Type.Optional(integer(faultLimits.seq, 'checkpoint-page: the checkpoint (default the newest retained)')),
    seed: Type.Optional(integer(faultLimits.seed, 'Makes the random choices reproducible')),
  },
  { additionalProperties: false },
);

const RecoveryOutcome = literals(['recovered', 'failed', 'alert-only'], 'alert-only: automatic recovery is off');

export const Injection = Type.Object(
  {
    id: Type.String(),
    vmId: Type.String(),
    time: Type.Number({ description: 'Unix time, ms' }),
    request: Type.Object({}, { additionalProperties: true }),
    effect: Type.Object({ description: Type.String(), details: Type.Object({}, { additionalProperties: true }) }),
    status: literals(['pending', 'detected', 'undetected'], 'undetected: the run ended without an alert'),
    detection: Type.Optional(
      Type.Object({ detector: Type.String(), alertId: Type.String(), time: Type.Number(), latencyMs: Type.Number({ description: 'Detection time - injection time' }) }),
    ),
    recovery: Type.Optional(
      Type.Object({ outcome: RecoveryOutcome, rollbacks: Type.Integer(), seq: Type.Optional(Type.Integer()), message: Type.String() }),
    ),
  },
  { $id: 'Injection' },
);

export const InjectionList = Type.Object({ injections: Type.Array(Type.Ref('Injection')) });
