// GET /health: is this switch up, and what does it run on. 200 when ready, 503 while starting or stopping and while
// Postgres does not answer (nothing can be approved without the ledger). A Redis outage leaves it ready (200,
// redisUp false): the switch serves from Postgres meanwhile.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface HealthSource {
  (): { ready: boolean; database: string; databaseUp: () => Promise<boolean>; redis: string; redisUp: boolean | null; posPort: number; connectionsOpen: number };
}

const Health = z.object({
  status: z.enum(['ok', 'unavailable']),
  database: z.string().describe('where Postgres comes from: DATABASE_URL or embedded'),
  databaseUp: z.boolean().describe('Postgres answered a SELECT 1 within 2 s (checked at most once a second); false: 503'),
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
    const databaseUp = await h.databaseUp();
    const ok = h.ready && databaseUp;
    reply.code(ok ? 200 : 503);
    return {
      status: ok ? 'ok' as const : 'unavailable' as const, database: h.database, databaseUp, redis: h.redis, redisUp: h.redisUp,
      posPort: h.posPort, connectionsOpen: h.connectionsOpen,
    };
  });
};
