import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TelemetryMetrics } from '../metrics/index.js';
import type { Supervisor } from '../service/supervisor.js';
import type { TelemetryHub } from '../service/telemetry-hub.js';
import type { Store } from '../store/index.js';

/** What the routes work with; the app builds it once. */
export interface AppContext {
  supervisor: Supervisor;
  store: Store;
  hub: TelemetryHub;
  metrics: TelemetryMetrics;
  version: string;
  /** Long operations give up after this long, with a clear error. */
  timeouts: { createMs: number; rollbackMs: number; requestMs: number };
}

export type Routes = (app: FastifyInstance, context: AppContext) => void;

export function typed(app: FastifyInstance) {
  return app.withTypeProvider<TypeBoxTypeProvider>();
}
