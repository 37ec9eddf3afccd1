// The uckpt HTTP application as one Fastify plugin tree: schemas, auth,
// audit, the REST routes, the telemetry WebSocket, /metrics, the OpenAPI
// document with its docs page, and the dashboard's static files.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { auditing } from './plugins/audit.js';
import { authentication } from './plugins/auth.js';
import { errorHandling } from './plugins/errors.js';
import { strictValidation } from './plugins/validation.js';
import { checkpointRoutes } from './routes/checkpoints.js';
import { faultRoutes } from './routes/faults.js';
import type { AppContext } from './routes/context.js';
import { healthRoutes } from './routes/health.js';
import { historyRoutes } from './routes/history.js';
import { modelRoutes } from './routes/model.js';
import { selectProtocol, telemetryRoutes } from './routes/telemetry.js';
import { vmRoutes } from './routes/vms.js';
import { Checkpoint } from './schemas/checkpoints.js';
import { ErrorBody } from './schemas/common.js';
import { Injection } from './schemas/faults.js';
import { Settings, Spec, VmView } from './schemas/vms.js';
import type { Service } from './service/service.js';

export const defaultWebRoot = fileURLToPath(new URL('../../web/dist', import.meta.url));

export interface AppOptions {
  service: Service;
  version?: string;
  /** Where the built dashboard is; not served when absent. */
  webRoot?: string;
  /** Mutations allowed per client per minute. */
  mutationsPerMinute?: number;
  timeouts?: Partial<AppContext['timeouts']>;
  fastify?: FastifyServerOptions;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { service } = options;
  const app = Fastify({
    bodyLimit: 64 * 1024,
    // Tokens travel in headers; never log them.
    logger: false,
    ...options.fastify,
  });
  for (const schema of [ErrorBody, Settings, Spec, VmView, Checkpoint, Injection]) app.addSchema(schema);
  strictValidation(app);
  const webRoot = options.webRoot ?? defaultWebRoot;
  const serveWeb = existsSync(path.join(webRoot, 'index.html'));
  errorHandling(app, { appShell: serveWeb });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'μCheckpoint API', version: options.version ?? '0.0.0', description: 'Checkpoints and rollback of protected VMs' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  // Mutations are limited per token; reads and the telemetry stream are not.
  await app.register(fastifyRateLimit, {
    global: true,
    hook: 'preHandler',
    max: options.mutationsPerMinute ?? 120,
    timeWindow: 60_000,
    allowList: (request) => request.method === 'GET' || request.method === 'HEAD',
    keyGenerator: (request) => request.identity?.label ?? request.ip,
  });
  await app.register(fastifyWebsocket, {
    options: { maxPayload: 64 * 1024, handleProtocols: (protocols) => selectProtocol(protocols) },
  });

  authentication(app, service.tokens);
  auditing(app, service.store);

  const context: AppContext = {
    supervisor: service.supervisor,
    store: service.store,
    hub: service.hub,
    metrics: service.metrics,
    version: options.version ?? '0.0.0',
    timeouts: { createMs: 30_000, rollbackMs: 10_000, requestMs: 10_000, ...options.timeouts },
  };
  for (const routes of [healthRoutes, vmRoutes, checkpointRoutes, faultRoutes, historyRoutes, telemetryRoutes, modelRoutes]) routes(app, context);
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // VM creation and deletion change what /metrics lists.
  app.addHook('onResponse', async (request, reply) => {
    const action = request.routeOptions.config.action;
    if (reply.statusCode < 400 && (action === 'vm.create' || action === 'vm.delete')) {
      service.vmsChanged(action === 'vm.delete' ? (request.params as { id: string }).id : undefined);
    }
  });

  if (serveWeb) await app.register(fastifyStatic, { root: webRoot, wildcard: false });
  return app;
}
