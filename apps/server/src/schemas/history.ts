import { Type } from 'typebox';
import { recentEpochsPerVm } from '../service/recent-epochs.js';

const historyTypes = 'alert|recovery|fault|rollback|checkpoint|vm-state|interval-tuned|checkpoint-summary';
const limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'At most this many, newest first' }));
const before = Type.Optional(Type.Integer({ minimum: 1, description: 'Only rows older than this id (paging)' }));

export const EventsQuery = Type.Object(
  {
    limit,
    before,
    since: Type.Optional(Type.Integer({ minimum: 0, description: 'Unix time, ms' })),
    types: Type.Optional(Type.String({ pattern: `^(${historyTypes})(,(${historyTypes}))*$` })),
  },
  { additionalProperties: false },
);

export const EventList = Type.Object({
  events: Type.Array(
    Type.Object({ id: Type.Integer(), time: Type.Number(), vmId: Type.String(), type: Type.String(), event: Type.Object({}, { additionalProperties: true }) }),
  ),
});

export const AuditQuery = Type.Object(
  {
    limit,
    before,
    since: Type.Optional(Type.Integer({ minimum: 0 })),
    vmId: Type.Optional(Type.String({ maxLength: 64 })),
    action: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

export const AuditList = Type.Object({
  entries: Type.Array(
    Type.Object({
      id: Type.Integer(),
      time: Type.Number(),
      role: Type.String(),
      tokenLabel: Type.String(),
      action: Type.String(),
      target: Type.Union([Type.String(), Type.Null()]),
      parameters: Type.Unknown(),
      result: Type.String(),
      client: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});

export const ConsoleQuery = Type.Object(
  { lines: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) },
  { additionalProperties: false },
);
export const ConsoleAnswer = Type.Object({ lines: Type.Array(Type.String()) });

export const EpochsQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: recentEpochsPerVm, description: `At most ${recentEpochsPerVm} (the default)` })) },
  { additionalProperties: false },
);

export const EpochList = Type.Object({
  epochs: Type.Array(Type.Object({ type: Type.Literal('epoch'), vmId: Type.String(), time: Type.Number(), seq: Type.Integer() }, { additionalProperties: true }), {
    description: "The VM's newest epoch records as the telemetry stream sent them, oldest first",
  }),
});
