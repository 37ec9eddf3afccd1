// Fault injection, for testing detectors and recovery (operators only; the
// audit log has every attempt). The agent tracks each injection's outcome:
// which detector caught it after how long, and whether recovery worked.
import { Type } from 'typebox';
import { HttpError } from '../plugins/errors.js';
import { FaultBody, InjectionList } from '../schemas/faults.js';
import { errors, VmIdParams } from '../schemas/common.js';
import { typed, type Routes } from './context.js';

export const faultRoutes: Routes = async (app, { supervisor, timeouts, faultInjection }) => {
  const api = typed(app);

  api.post('/api/vms/:id/faults', {
    config: { action: 'vm.fault' },
    schema: {
      tags: ['faults'],
      summary: 'Inject a fault (for testing): answers with the injection id and what was done',
      params: VmIdParams,
      body: FaultBody,
      response: { 201: Type.Ref('Injection'), ...errors(400, 401, 403, 404, 409, 429, 501, 504) },
    },
  }, async (request, reply) => {
    if (!faultInjection) {
      throw new HttpError(403, 'forbidden', 'fault injection is off on this server; start it with --allow-fault-injection (for testing only)');
    }
    const injection = await supervisor.request(request.params.id, 'inject', request.body, timeouts.requestMs);
    return reply.status(201).send(injection);
  });

  api.get('/api/vms/:id/faults', {
    config: { access: 'viewer' },
    schema: {
      tags: ['faults'],
      summary: "The VM's injections, oldest first, with their outcomes",
      params: VmIdParams,
      response: { 200: InjectionList, ...errors(400, 401, 404, 409) },
    },
  }, async (request) => ({ injections: await supervisor.request(request.params.id, 'faults', {}, timeouts.requestMs) }));
};
