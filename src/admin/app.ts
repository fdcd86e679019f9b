// The admin HTTP app: /health, /metrics, OpenAPI at /docs, and one plugin per resource. zod schemas (through
// fastify-type-provider-zod) are the single description of every body, reply and query: they validate,
// serialise and make the OpenAPI document.
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from '../log.js';
import type { SwitchMetrics } from '../switch/metrics.js';
import { clientsPlugin, type ClientsSource } from './clients.js';
import { healthPlugin, type HealthSource } from './health.js';
import { metricsPlugin } from './metrics.js';
import { registerProblemHandlers } from './problem.js';

export interface AdminAppOptions {
  log: Logger;
  metrics: SwitchMetrics;
  health: HealthSource;
  /** The POS clients connected now (GET /clients); absent: no such route. */
  clients?: ClientsSource;
  /** The whole switch's refusal turns left (GET /clients). */
  refusalTurnsLeft?: () => number | undefined;
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
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'pointswitch admin API', description: 'Operations and reference data of the points switch', version: '0.1.0' },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(healthPlugin, { health: options.health });
  await app.register(metricsPlugin, { metrics: options.metrics });
  if (options.clients) {
    await app.register(clientsPlugin, { clients: options.clients, ...(options.refusalTurnsLeft ? { refusalTurnsLeft: options.refusalTurnsLeft } : {}) });
  }
  for (const r of options.resources ?? []) await app.register(r.plugin, { prefix: r.prefix });
  await app.ready();
  return app;
}
