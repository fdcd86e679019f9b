// The admin HTTP app: /health, /metrics, OpenAPI at /docs, and one plugin per resource. zod schemas (through
// fastify-type-provider-zod) are the single description of every body, reply and query: they validate,
// serialise and make the OpenAPI document.
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../log.js';
import type { SwitchMetrics } from '../switch/metrics.js';
import { apiKeysPlugin } from './api-keys.js';
import { auditLogPlugin } from './audit-log.js';
import { anyKey, registerAuth } from './auth.js';
import { clientsPlugin, type ClientsSource } from './clients.js';
import { healthPlugin, type HealthSource } from './health.js';
import { metricsPlugin } from './metrics.js';
import type { ApiKeys } from './keys.js';
import { registerProblemHandlers } from './problem.js';

export interface AdminAppOptions {
  log: Logger;
  metrics: SwitchMetrics;
  health: HealthSource;
  /** The POS clients connected now (GET /clients); absent: no such route. */
  clients?: ClientsSource;
  /** The whole switch's refusal turns left (GET /clients). */
  refusalTurnsLeft?: () => number | undefined;
  /** The API keys every route but /health and /health/live needs. */
  keys: ApiKeys;
  /** The database of the audit trail. */
  pool: Pool;
  /** /metrics answers without a key (the admin server binds loopback, or a setting says so). */
  metricsPublic: boolean;
  /** Resource plugins (cards, merchants, terminals …), each registered under its own prefix. */
  resources?: Array<{ prefix: string; plugin: FastifyPluginAsync }>;
}

export async function buildAdminApp(options: AdminAppOptions): Promise<FastifyInstance> {
  // Typed as the default instance: plugins declare their own zod type provider (FastifyPluginAsyncZod).
  // Request lines are not logged (fastify logs them at info; the admin logger starts at warn).
  const log = options.log.level === 'silent' ? options.log : options.log.child({}, { level: 'warn' });
  const app = Fastify({
    loggerInstance: log,
    bodyLimit: 1024 * 1024,
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerProblemHandlers(app);
  // Before any route: the hook that checks each route declares its access, and the key check.
  registerAuth(app, { keys: options.keys, fallback: (url) => (url === '/docs' || url.startsWith('/docs/') ? anyKey : undefined) });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'pointswitch admin API', description: 'Operations and reference data of the points switch', version: '0.1.0' },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (psk_…) made with `pointswitch apikey create` or POST /keys' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(healthPlugin, { health: options.health });
  await app.register(metricsPlugin, { metrics: options.metrics, public: options.metricsPublic });
  await app.register(apiKeysPlugin, { prefix: '/keys', keys: options.keys, pool: options.pool });
  await app.register(auditLogPlugin, { prefix: '/audit-log', pool: options.pool });
  if (options.clients) {
    await app.register(clientsPlugin, { clients: options.clients, ...(options.refusalTurnsLeft ? { refusalTurnsLeft: options.refusalTurnsLeft } : {}) });
  }
  for (const r of options.resources ?? []) await app.register(r.plugin, { prefix: r.prefix });
  await app.ready();
  return app;
}
