import { Type } from 'typebox';
import { limits } from '@uckpt/engine';

const integer = (range: { min: number; max: number }, description: string) =>
  Type.Integer({ minimum: range.min, maximum: range.max, description });

export const Mode = Type.Union([Type.Literal('stop-and-copy'), Type.Literal('cow')], { description: 'How checkpoints are taken' });
export const Predictor = Type.Union([Type.Literal('off'), Type.Literal('history'), Type.Literal('frontier'), Type.Literal('cost')], {
  description: 'Dirty-page predictor',
});
export const Backend = Type.Union([Type.Literal('kvm'), Type.Literal('xen'), Type.Literal('sim')], {
  description: 'kvm; xen: attach an existing domain in dom0 (needs domain or domid); or sim: a simulated test double',
});
export const VmState = Type.Union(
  ['starting', 'calibrating', 'running', 'paused', 'rolling-back', 'finished', 'crashed', 'failed', 'stopped'].map((s) => Type.Literal(s)),
);

const settingsProperties = {
  enabled: Type.Boolean({ description: 'Checkpointing on or off' }),
  intervalMs: integer(limits.intervalMs, 'Checkpoint interval in ms'),
  retention: integer(limits.retention, 'Checkpoints kept in memory'),
  mode: Mode,
  predictor: Predictor,
  precopy: Type.Boolean({ description: 'Stop-and-copy: copy pages written early in an epoch while the guest runs, so that the pause copies only the rest' }),
  autoRecover: Type.Boolean({ description: 'On an alert, roll back automatically (true) or only alert (false)' }),
  hangTimeoutMs: integer(limits.hangTimeoutMs, 'Heartbeat: no guest progress for this long is a hang, ms'),
  selfCheckLatencyMs: integer(limits.latencyBoundMs, "Latency bound of the guest's self-checks, ms"),
  crashLatencyMs: integer(limits.latencyBoundMs, 'Latency bound of the crash detector: how long a corruption may stay silent before a crash, ms'),
  recurrenceWindowMs: integer(
    limits.recurrenceWindowMs,
    "An alert this soon after a recovery rollback falls back to an older checkpoint, ms; must exceed the detectors' latency",
  ),
  autoTune: Type.Boolean({ description: "Keep the interval at the availability model's optimum within the overhead budget, as the write rate changes" }),
  overheadBudgetPct: Type.Number({
    minimum: limits.overheadBudgetPct.min,
    maximum: limits.overheadBudgetPct.max,
    description: 'Auto-tune: the share of guest time checkpointing may take, %, as modelled and as measured',
  }),
  errorRatePerHour: Type.Number({
    minimum: limits.errorRatePerHour.min,
    maximum: limits.errorRatePerHour.max,
    description: 'Errors expected per hour of execution: the availability model plans for it (auto-tune, GET /api/model/availability?vmId=)',
  }),
};

export const Settings = Type.Object(settingsProperties, { $id: 'Settings', additionalProperties: false });
export const SettingsPatch = Type.Partial(Type.Object(settingsProperties), { additionalProperties: false, minProperties: 1 });

const guestInteger = (description: string) => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description });

export const Spec = Type.Object(
  {
    name: Type.String(),
    backend: Backend,
    workload: Type.String(),
    memoryMiB: Type.Integer(),
    vcpus: Type.Integer(),
    seed: Type.Integer(),
    size: Type.Integer(),
    param: Type.Integer(),
    repeat: Type.Integer(),
    domid: Type.Optional(Type.Integer()),
  },
  { $id: 'Spec', additionalProperties: false },
);

export const CreateVmBody = Type.Object(
  {
    name: Type.Optional(
      Type.String({ pattern: limits.name.pattern, description: "Letters, digits, . _ -; up to 63 characters. Required, except with domain (then the domain's name)" }),
    ),
    workload: Type.Optional(
      Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$', description: 'A guest workload (GET /api/workloads). Required, except with domain' }),
    ),
    domain: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9._-]{1,63}$',
        description: 'Xen: protect this existing domain, by name or domid (GET /api/host/domains); PVH only. Implies backend xen',
      }),
    ),
    backend: Type.Optional(Backend),
    memoryMiB: Type.Optional(integer(limits.memoryMiB, 'Guest RAM in MiB')),
    vcpus: Type.Optional(integer(limits.vcpus, 'vCPUs')),
    seed: Type.Optional(guestInteger('Workload seed')),
    size: Type.Optional(guestInteger("Workload size; 0: the workload's default")),
    param: Type.Optional(guestInteger("Workload parameter; 0: the workload's default")),
    repeat: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Runs of the workload; 0 loops forever' })),
    domid: Type.Optional(
      integer(limits.domid, 'Xen only, and required there: the running PVH or HVM domain to attach (it is never created or destroyed)'),
    ),
    settings: Type.Optional(SettingsPatch),
  },
  { additionalProperties: false },
);

export const VmView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    backend: Backend,
    simulated: Type.Boolean({ description: 'True for the simulated test double' }),
    state: VmState,
    reason: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.Number({ description: 'Unix time, ms' }),
    spec: Type.Ref('Spec'),
    settings: Type.Ref('Settings'),
    progress: Type.Object({
      units: Type.Number(),
      runsDone: Type.Number(),
      lastChecksum: Type.Union([Type.String(), Type.Null()]),
      rate: Type.Number({ description: 'Guest work units per second' }),
    }),
    calibratedRate: Type.Union([Type.Number(), Type.Null()]),
    overheadPct: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], {
      description: 'Live overhead: time the guest lost to checkpoints (pauses, write faults) per time it ran, %, over the last ~2 s',
    }),
    overheadCalibratedPct: Type.Union([Type.Number(), Type.Null()], {
      description: "Secondary: the progress rate calibrated before protection / the current one - 1, %; swings with the guest's own speed",
    }),
    lastCheckpointTime: Type.Union([Type.Number(), Type.Null()]),
    checkpointsRetained: Type.Integer(),
    storeBytes: Type.Number(),
    epochs: Type.Integer(),
  },
  { $id: 'VmView' },
);

export const VmList = Type.Object({ vms: Type.Array(Type.Ref('VmView')) });
export const SettingsAnswer = Type.Object({ settings: Type.Ref('Settings') });
