// GET /metrics: the switch's Prometheus registry in text exposition format.
import type { FastifyPluginAsync } from 'fastify';
import type { SwitchMetrics } from '../switch/metrics.js';

export const metricsPlugin: FastifyPluginAsync<{ metrics: SwitchMetrics }> = async (app, opts) => {
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
    reply.type(opts.metrics.contentType);
    return opts.metrics.text();
  });
};
