import { Type } from 'typebox';
import { listWorkloads } from '@uckpt/native-kvm';
import { errors } from '../schemas/common.js';
import { typed, type Routes } from './context.js';

export const healthRoutes: Routes = (app, { version }) => {
  const api = typed(app);
  api.get('/api/health', {
    schema: {
      tags: ['service'],
      summary: 'Liveness; needs no token',
      response: { 200: Type.Object({ status: Type.Literal('ok'), version: Type.String() }) },
    },
  }, async () => ({ status: 'ok' as const, version }));

  api.get('/api/session', {
    schema: {
      tags: ['service'],
      summary: 'The role of the presented token',
      response: { 200: Type.Object({ role: Type.Union([Type.Literal('operator'), Type.Literal('viewer')]) }), ...errors(401) },
    },
  }, async (request) => ({ role: request.identity!.role }));

  api.get('/api/workloads', {
    schema: {
      tags: ['vms'],
      summary: 'The guest workloads a KVM VM can run',
      response: {
        200: Type.Object({ workloads: Type.Array(Type.Object({ name: Type.String(), description: Type.String() })) }),
        ...errors(401),
      },
    },
  }, async () => ({ workloads: listWorkloads().map(({ name, summary }) => ({ name, description: summary })) }));
};
