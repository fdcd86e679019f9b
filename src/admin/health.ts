// GET /health: is this switch up, and what does it run on. 200 when ready, 503 while starting or stopping and while
// Postgres does not answer (nothing can be approved without the ledger). A Redis outage leaves it ready (200,
// redisUp false): the switch serves from Postgres meanwhile. That is readiness: whether to send terminals here.
// GET /health/live is liveness: 200 whenever the process answers HTTP at all, asking nothing of Postgres or Redis,
// for a restart policy (a Kubernetes livenessProbe): restarting a switch because its Postgres is away brings nothing
// back and drops the connections it holds.
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

const Live = z.object({
  status: z.literal('alive'),
  uptimeSeconds: z.number().int().describe('seconds since the process started'),
});

export const healthPlugin: FastifyPluginAsyncZod<{ health: HealthSource }> = async (app, opts) => {
  app.get('/health/live', {
    config: { access: 'public' },
    schema: { tags: ['operations'], summary: 'Liveness: the process answers (nothing else is asked)', response: { 200: Live } },
  }, async () => ({ status: 'alive' as const, uptimeSeconds: Math.floor(process.uptime()) }));

  app.get('/health', {
    config: { access: 'public' },
    schema: { tags: ['operations'], summary: 'Readiness: ready, and Postgres answers (503 otherwise)', response: { 200: Health, 503: Health } },
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
