import { EngineError } from '@uckpt/engine';
import type { HistoryEventType } from '../store/index.js';
import { errors, VmIdParams } from '../schemas/common.js';
import { AuditList, AuditQuery, ConsoleAnswer, ConsoleQuery, EpochList, EpochsQuery, EventList, EventsQuery } from '../schemas/history.js';
import { typed, type Routes } from './context.js';

export const historyRoutes: Routes = async (app, { supervisor, store, recentEpochs, timeouts }) => {
  const api = typed(app);

  api.get('/api/vms/:id/events', {
    config: { access: 'viewer' },
    schema: {
      tags: ['history'],
      summary: 'Alerts, rollbacks, state changes, manual checkpoints and per-minute epoch summaries, newest first',
      params: VmIdParams,
      querystring: EventsQuery,
      response: { 200: EventList, ...errors(400, 401, 404) },
    },
  }, async (request) => {
    const { id } = request.params;
    if (!supervisor.has(id)) throw new EngineError('not-found', `no VM with id ${id}`);
    const { types, ...query } = request.query;
    const records = store.queryEvents({ ...query, vmId: id, ...(types ? { types: types.split(',') as HistoryEventType[] } : {}) });
    return { events: records.map(({ id: rowId, ...event }) => ({ id: rowId, time: event.time, vmId: event.vmId, type: event.type, event })) };
  });

  api.get('/api/vms/:id/epochs', {
    config: { access: 'viewer' },
    schema: {
      tags: ['history'],
      summary: 'The newest epoch records (the last ~2 minutes at 50 ms), kept in memory: for charts drawn mid-run',
      params: VmIdParams,
      querystring: EpochsQuery,
      response: { 200: EpochList, ...errors(400, 401, 404) },
    },
  }, async (request) => {
    const { id } = request.params;
    if (!supervisor.has(id)) throw new EngineError('not-found', `no VM with id ${id}`);
    return { epochs: recentEpochs.recent(id, request.query.limit) };
  });

  api.get('/api/vms/:id/console', {
    config: { access: 'viewer' },
    schema: {
      tags: ['history'],
      summary: "The guest console's last lines",
      params: VmIdParams,
      querystring: ConsoleQuery,
      response: { 200: ConsoleAnswer, ...errors(400, 401, 404, 409) },
    },
  }, async (request) => ({
    lines: await supervisor.request(request.params.id, 'console', { lines: request.query.lines ?? 200 }, timeouts.requestMs),
  }));

  api.get('/api/audit', {
    config: { access: 'viewer' },
    schema: {
      tags: ['history'],
      summary: 'The audit log of mutations, newest first',
      querystring: AuditQuery,
      response: { 200: AuditList, ...errors(400, 401) },
    },
  }, async (request) => ({ entries: store.queryAudit(request.query) }));
};
