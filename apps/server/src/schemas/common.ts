import { Type } from 'typebox';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({ code: Type.String(), message: Type.String() }),
  },
  { $id: 'Error', description: 'Every error answer' },
);

/** The error answers a route can give, for its response schema. */
export function errors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, Type.Ref('Error')]));
}

export const VmIdParams = Type.Object(
  { id: Type.String({ pattern: '^vm-[0-9a-f]{1,32}$', description: 'VM id, e.g. vm-3f2a9c01b4d7' }) },
  { additionalProperties: false },
);
