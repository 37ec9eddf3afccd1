import { Type } from 'typebox';
import { errors, VmIdParams } from '../schemas/common.js';
import { CheckpointList, RollbackAnswer, RollbackBody } from '../schemas/checkpoints.js';
import { typed, type Routes } from './context.js';

export const checkpointRoutes: Routes = async (app, { supervisor, timeouts }) => {
  const api = typed(app);

  api.get('/api/vms/:id/checkpoints', {
    config: { access: 'viewer' },
    schema: {
      tags: ['checkpoints'],
      summary: 'The retained checkpoints, oldest first',
      params: VmIdParams,
      response: { 200: CheckpointList, ...errors(400, 401, 404, 409) },
    },
  }, async (request) => {
    const now = Date.now();
    const checkpoints = await supervisor.request(request.params.id, 'checkpoints', {}, timeouts.requestMs);
    return { checkpoints: checkpoints.map((checkpoint) => ({ ...checkpoint, ageMs: Math.max(0, now - checkpoint.time) })) };
  });

  api.post('/api/vms/:id/checkpoints', {
    config: { action: 'vm.checkpoint' },
    schema: {
      tags: ['checkpoints'],
      summary: 'Take a checkpoint now',
      params: VmIdParams,
      response: { 201: Type.Ref('Checkpoint'), ...errors(400, 401, 403, 404, 409, 429, 504) },
    },
  }, async (request, reply) => {
    const checkpoint = await supervisor.request(request.params.id, 'checkpoint', {}, timeouts.requestMs);
    return reply.status(201).send({ ...checkpoint, ageMs: Math.max(0, Date.now() - checkpoint.time) });
  });

  api.post('/api/vms/:id/rollback', {
    config: { action: 'vm.rollback' },
    schema: {
      tags: ['checkpoints'],
      summary: 'Roll the VM back in place to a retained checkpoint',
      params: VmIdParams,
      body: RollbackBody,
      response: { 200: RollbackAnswer, ...errors(400, 401, 403, 404, 409, 429, 504) },
    },
  }, async (request) => {
    const result = await supervisor.request(request.params.id, 'rollback', { to: request.body.to }, timeouts.rollbackMs);
    return { seq: result.seq, pagesRestored: result.pagesRestored, checkpointsDropped: result.checkpointsDropped, durationUs: result.durationNs / 1000 };
  });
};
