// /keys: the admin API's own keys (role admin). A new key is shown once, in the reply that made it; lists show
// names, roles, prefixes and use, never a key. Every change is written to the audit trail.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { recordAudit } from './audit-trail.js';
import type { ApiKeys, KeyInfo } from './keys.js';
import { roles } from './keys.js';
import type { Pool } from '../db/pool.js';
import { HttpProblem } from './problem.js';

const Key = z.object({
  keyId: z.number().int(),
  name: z.string(),
  role: z.enum(roles),
  prefix: z.string().describe('the non-secret part of the key (psk_<prefix>_…), to tell keys apart'),
  createdAt: z.string(),
  expiresAt: z.string().nullable().describe('the key stops working then (set by a rotation\'s grace period)'),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable().describe('to the minute'),
  replacedBy: z.number().int().nullable(),
});
const NewKey = Key.extend({ key: z.string().describe('the key itself: shown this once, stored only as a hash') });
const KeyCreate = z.strictObject({ role: z.enum(roles), name: z.string().min(1).max(100) });
const Rotate = z.strictObject({
  graceSeconds: z.number().int().min(0).max(30 * 86_400).default(86_400).describe('how long the old key keeps working (default one day)'),
});
const Params = z.object({ keyId: z.coerce.number().int().min(1) });
const admin = { access: { roles: ['admin'] as const } };

/** What the audit trail keeps of a key: never the key. */
const trail = (k: KeyInfo) => ({ keyId: k.keyId, name: k.name, role: k.role, prefix: k.prefix, expiresAt: k.expiresAt, revokedAt: k.revokedAt });

export const apiKeysPlugin: FastifyPluginAsyncZod<{ keys: ApiKeys; pool: Pool }> = async (app, { keys, pool }) => {
  const tags = ['keys'];
  const notFound = (id: number) => new HttpProblem(404, 'Not Found', `keyId: no usable key ${id}`);
  app.get('/', { config: admin, schema: { tags, summary: 'List API keys (never the keys themselves)', response: { 200: z.array(Key) } } },
    async () => keys.list());
  app.post('/', { config: admin, schema: { tags, summary: 'Create an API key; the reply shows it once', body: KeyCreate, response: { 201: NewKey } } },
    async (req, reply) => {
      const made = await keys.create(req.body);
      await recordAudit(pool, req.principal!, { action: 'key.create', subject: String(made.info.keyId), after: trail(made.info) });
      reply.code(201);
      return { ...made.info, key: made.key };
    });
  app.post('/:keyId/revoke', { config: admin, schema: { tags, summary: 'Revoke a key at once', params: Params, response: { 200: Key } } },
    async (req) => {
      const before = await keys.get(req.params.keyId);
      const k = await keys.revoke(req.params.keyId);
      if (!k || !before) throw notFound(req.params.keyId);
      await recordAudit(pool, req.principal!, { action: 'key.revoke', subject: String(k.keyId), before: trail(before), after: trail(k) });
      return k;
    });
  app.post('/:keyId/rotate', {
    config: admin,
    schema: { tags, summary: 'A new key of the same name and role; the old one works for the grace period, then stops', params: Params, body: Rotate, response: { 201: NewKey } },
  }, async (req, reply) => {
    const before = await keys.get(req.params.keyId);
    const r = await keys.rotate(req.params.keyId, req.body.graceSeconds);
    if (!r || !before) throw notFound(req.params.keyId);
    await recordAudit(pool, req.principal!, { action: 'key.rotate', subject: String(before.keyId), before: trail(before), after: { old: trail(r.old), new: trail(r.info) } });
    reply.code(201);
    return { ...r.info, key: r.key };
  });
};
