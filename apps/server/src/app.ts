// The uckpt HTTP application as one Fastify plugin tree: schemas, the
// security checks every request passes (plugins/security.ts), the audit
// log, the REST routes and the telemetry WebSocket as encapsulated plugins
// that inherit those checks, /metrics, the OpenAPI document with its docs
// page, and the dashboard's static files.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { describeHost, type HostInfo } from '@uckpt/engine';
import { markRoutesPublic, type Access } from './plugins/access.js';
import { auditing } from './plugins/audit.js';
import { errorHandling } from './plugins/errors.js';
import { loopbackHosts } from './plugins/host-allowlist.js';
import { routableUrl } from './plugins/routable-url.js';
import { defaultRateLimits, security, type RateLimits } from './plugins/security.js';
import { strictValidation } from './plugins/validation.js';
import { checkpointRoutes } from './routes/checkpoints.js';
import type { AppContext } from './routes/context.js';
import { faultRoutes } from './routes/faults.js';
import { healthRoutes } from './routes/health.js';
import { hostRoutes } from './routes/host.js';
import { historyRoutes } from './routes/history.js';
import { modelRoutes } from './routes/model.js';
import { selectProtocol, telemetryRoutes } from './routes/telemetry.js';
import { vmRoutes } from './routes/vms.js';
import { Checkpoint } from './schemas/checkpoints.js';
import { HostView } from './schemas/host.js';
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
  /** Host names the server answers to (plugins/host-allowlist.ts); default the loopback names. */
  allowedHosts?: readonly string[];
  rateLimits?: Partial<RateLimits>;
  /** Whether POST /api/vms/:id/faults may inject faults; off unless the server was started to allow it. */
  faultInjection?: boolean;
  timeouts?: Partial<AppContext['timeouts']>;
  /** What this host is; the real host's description (engine describeHost) when absent. */
  describeHost?: () => HostInfo;
  /** Where the server logs (pino); none when absent. */
  logger?: FastifyBaseLogger;
}

/** A route the app serves; access is read late, as plugins may mark routes after they are declared. */
export interface RouteEntry {
  method: string;
  url: string;
  access: () => Access | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route the app serves, as declared: what the route tests walk. */
    routeTable: readonly RouteEntry[];
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { service } = options;
  const app = Fastify({
    bodyLimit: 64 * 1024,
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // Requests are logged by the audit log and the error handler, not one line each.
    logController: new LogController({ disableRequestLogging: true }),
    // The id an error answer carries, to find its log line; a client's own x-request-id is not trusted.
    requestIdHeader: false,
    genReqId: () => randomUUID(),
    // Fastify answers a URL its router cannot decode, or a parameter longer than
    // maxParamLength, itself, before any hook: no access check, rate limit,
    // audit or security headers. Such a URL is re-spelled to reach the app
    // (plugins/routable-url.ts), and a parameter may be as long as a request line.
    rewriteUrl: (request) => routableUrl(request.url ?? '/'),
    routerOptions: { maxParamLength: 16 * 1024 },
  });
  const routeTable: RouteEntry[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routeTable.push({ method, url: route.url, access: () => route.config?.access });
  });
  for (const schema of [ErrorBody, Settings, Spec, VmView, Checkpoint, Injection, HostView]) app.addSchema(schema);
  strictValidation(app);
  const webRoot = options.webRoot ?? defaultWebRoot;
  const appShell = path.join(webRoot, 'index.html');
  const serveWeb = existsSync(appShell);
  errorHandling(app, { appShell: serveWeb ? appShell : null });

  // First: its hook marks upgrade requests, so that one refused below still has its socket closed.
  await app.register(fastifyWebsocket, {
    options: { maxPayload: 64 * 1024, handleProtocols: (protocols) => selectProtocol(protocols) },
    errorHandler: (error, socket, request) => {
      // A client that breaks the WebSocket protocol (ws has closed it with the
      // code that says why) or drops its connection is no server error: one
      // short line, not an error entry with a stack for each bad frame.
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (code.startsWith('WS_ERR_') || code === 'ECONNRESET' || code === 'EPIPE') request.log.info(`telemetry client dropped: ${error.message} (${code})`);
      else request.log.error({ err: error }, 'telemetry connection failed');
      socket.terminate();
    },
  });
  await app.register(security, {
    tokens: service.tokens,
    allowedHosts: options.allowedHosts ?? loopbackHosts,
    rateLimits: { ...defaultRateLimits, ...options.rateLimits },
  });
  await app.register(auditing, { store: service.store });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'μCheckpoint API', version: options.version ?? '0.0.0', description: 'Checkpoints and rollback of protected VMs' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  const context: AppContext = {
    supervisor: service.supervisor,
    store: service.store,
    hub: service.hub,
    recentEpochs: service.recentEpochs,
    metrics: service.metrics,
    version: options.version ?? '0.0.0',
    faultInjection: options.faultInjection ?? false,
    vmsChanged: (deletedId) => service.vmsChanged(deletedId),
    describeHost: options.describeHost ?? (() => describeHost()),
    timeouts: { createMs: 30_000, rollbackMs: 10_000, requestMs: 10_000, ...options.timeouts },
  };
  for (const routes of [healthRoutes, hostRoutes, vmRoutes, checkpointRoutes, faultRoutes, historyRoutes, telemetryRoutes, modelRoutes]) {
    await app.register(routes, context);
  }

  // What anyone may fetch: the API's description, its docs page and the dashboard's files.
  await app.register(async (open) => {
    markRoutesPublic(open);
    open.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    await open.register(fastifySwaggerUi, { routePrefix: '/docs' });
    if (serveWeb) await open.register(fastifyStatic, { root: webRoot, wildcard: false });
  });
  return app;
}
