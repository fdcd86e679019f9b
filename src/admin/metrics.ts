// GET /metrics: the switch's Prometheus registry in text exposition format.
import type { FastifyPluginAsync } from 'fastify';
import type { SwitchMetrics } from '../switch/metrics.js';

export const metricsPlugin: FastifyPluginAsync<{ metrics: SwitchMetrics; public: boolean }> = async (app, opts) => {
  // Scrapable without a key only where the admin server is reachable from this machine alone, or by a setting.
  const access = opts.public ? 'public' as const : { roles: ['operator', 'auditor'] as const };
  app.get('/metrics', { config: { access }, schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
    reply.type(opts.metrics.contentType);
    return opts.metrics.text();
  });
};
