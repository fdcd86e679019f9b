// GET /health: is this switch up, and what does it run on. 200 when ready, 503 while starting or stopping. A Redis
// outage leaves it ready (200, redisUp false): the switch serves from Postgres meanwhile.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface HealthSource {
  (): { ready: boolean; database: string; redis: string; redisUp: boolean | null; posPort: number; connectionsOpen: number };
}

const Health = z.object({
  status: z.enum(['ok', 'unavailable']),
  database: z.string().describe('where Postgres comes from: DATABASE_URL or embedded'),
  redis: z.string().describe('REDIS_URL, redis-server from PATH, or none (Postgres alone)'),
  redisUp: z.boolean().nullable().describe('Redis answering now; false during an outage (the switch serves from Postgres meanwhile, still ready); null without Redis'),
  posPort: z.number().int(),
  connectionsOpen: z.number().int(),
});

export const healthPlugin: FastifyPluginAsyncZod<{ health: HealthSource }> = async (app, opts) => {
  app.get('/health', {
    schema: { tags: ['operations'], summary: 'Liveness and readiness', response: { 200: Health, 503: Health } },
  }, async (_req, reply) => {
    const h = opts.health();
    const status = h.ready ? 'ok' as const : 'unavailable' as const;
    reply.code(h.ready ? 200 : 503);
    return { status, database: h.database, redis: h.redis, redisUp: h.redisUp, posPort: h.posPort, connectionsOpen: h.connectionsOpen };
  });
};
