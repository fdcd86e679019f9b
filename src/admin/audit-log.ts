// GET /audit-log: every change made through the admin API or the CLI, newest first, for the auditor.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Pool } from '../db/pool.js';
import { readAudit } from './audit-trail.js';

const Entry = z.object({
  auditId: z.number().int(),
  at: z.string(),
  keyId: z.number().int().nullable().describe('the API key that made the change; null for the CLI'),
  actor: z.string().describe('key:<name> or cli:<user>'),
  action: z.string().describe('e.g. card.create, merchant.update, key.revoke'),
  subject: z.string().nullable().describe('what changed (card numbers masked)'),
  before: z.unknown(),
  after: z.unknown(),
});
const Query = z.strictObject({
  action: z.string().max(100).optional(),
  keyId: z.coerce.number().int().min(1).optional(),
  subject: z.string().max(100).optional(),
  from: z.iso.datetime({ offset: true }).optional().describe('at or after (ISO 8601)'),
  to: z.iso.datetime({ offset: true }).optional().describe('before (ISO 8601)'),
  before: z.coerce.number().int().min(1).optional().describe('cursor: the auditId of the last entry of the previous page'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const auditLogPlugin: FastifyPluginAsyncZod<{ pool: Pool }> = async (app, { pool }) => {
  app.get('/', {
    config: { access: { roles: ['auditor', 'admin'] } },
    schema: { tags: ['audit'], summary: 'The audit trail, newest first, cursor-paged', querystring: Query, response: { 200: z.object({ entries: z.array(Entry), next: z.number().int().nullable() }) } },
  }, async (req) => {
    const entries = await readAudit(pool, req.query);
    return { entries, next: entries.length === req.query.limit ? entries[entries.length - 1]!.auditId : null };
  });
};
