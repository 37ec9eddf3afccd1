import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { HostInfo } from '@uckpt/engine';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TelemetryMetrics } from '../metrics/index.js';
import type { RecentEpochs } from '../service/recent-epochs.js';
import type { Supervisor } from '../service/supervisor.js';
import type { TelemetryHub } from '../service/telemetry-hub.js';
import type { Store } from '../store/index.js';

/** What the routes work with; the app builds it once. */
export interface AppContext {
  supervisor: Supervisor;
  store: Store;
  hub: TelemetryHub;
  recentEpochs: RecentEpochs;
  metrics: TelemetryMetrics;
  version: string;
  /** Whether fault injection is allowed (a server flag; off by default). */
  faultInjection: boolean;
  /** Called after a VM is created or deleted (the metrics list VMs). */
  vmsChanged: (deletedId?: string) => void;
  /** What this host is (GET /api/host): read when asked, as modules and devices come and go. */
  describeHost: () => HostInfo;
  /** Long operations give up after this long, with a clear error. */
  timeouts: { createMs: number; rollbackMs: number; requestMs: number };
}

/** A group of routes: an encapsulated plugin that inherits the app's security hooks. */
export type Routes = FastifyPluginAsync<AppContext>;

export function typed(app: FastifyInstance) {
  return app.withTypeProvider<TypeBoxTypeProvider>();
}
