import { Type } from 'typebox';

export const Checkpoint = Type.Object(
  {
    seq: Type.Integer(),
    time: Type.Number({ description: 'Unix time, ms' }),
    ageMs: Type.Number(),
    pages: Type.Integer(),
    bytes: Type.Number(),
    verified: Type.Boolean({ description: 'False once a stored page failed its checksum' }),
  },
  { $id: 'Checkpoint' },
);

export const CheckpointList = Type.Object({ checkpoints: Type.Array(Type.Ref('Checkpoint')) });

export const RollbackBody = Type.Object(
  {
    to: Type.Union([Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), Type.Literal('latest'), Type.Literal('safe')], {
      description: 'A retained seq, the newest checkpoint, or the newest one that is safe',
    }),
  },
  { additionalProperties: false },
);

export const RollbackAnswer = Type.Object({
  seq: Type.Integer(),
  pagesRestored: Type.Integer(),
  checkpointsDropped: Type.Integer(),
  durationUs: Type.Number(),
});
