import { Type } from 'typebox';
import { listWorkloads } from '@uckpt/engine';
import { errors } from '../schemas/common.js';
import { typed, type Routes } from './context.js';

export const healthRoutes: Routes = async (app, { version, faultInjection }) => {
  const api = typed(app);
  api.get('/api/health', {
    config: { access: 'public' },
    schema: {
      tags: ['service'],
      summary: 'Liveness; needs no token',
      response: { 200: Type.Object({ status: Type.Literal('ok'), version: Type.String() }) },
    },
  }, async () => ({ status: 'ok' as const, version }));

  api.get('/api/session', {
    config: { access: 'viewer' },
    schema: {
      tags: ['service'],
      summary: "The presented token's role, and what this server allows",
      response: {
        200: Type.Object({
          role: Type.Union([Type.Literal('operator'), Type.Literal('viewer')]),
          faultInjection: Type.Boolean({ description: 'Whether faults may be injected (the server was started with --allow-fault-injection)' }),
        }),
        ...errors(401),
      },
    },
  }, async (request) => ({ role: request.identity!.role, faultInjection }));

  api.get('/api/workloads', {
    config: { access: 'viewer' },
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
