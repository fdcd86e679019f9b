// /terminals: POS terminals, their merchant, status and MAC algorithm. The master key (TMK) is written once,
// encrypted under the KEK, and never read back; working keys are never exposed.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { inTransaction, type Pool } from '../db/pool.js';
import type { Kek } from '../ledger/index.js';
import { recordAudit } from './audit-trail.js';
import { rethrowAsProblem } from './db-errors.js';
import { HttpProblem } from './problem.js';

const tmkHexField = z.string().regex(/^([0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})$/, { message: 'must be 16 or 32 hex digits' })
  .describe('terminal master key, clear, as loaded into the terminal; stored encrypted, never returned');
const terminalId = z.string().regex(/^[0-9A-Za-z]{8}$/, { message: 'must be 8 characters' });
const Terminal = z.object({
  terminalId,
  merchantId: z.string().regex(/^\d{15}$/, { message: 'must be 15 digits' }),
  status: z.enum(['active', 'suspended', 'closed']),
  macAlgorithm: z.enum(['ecb', 'x919']).describe('ecb: UnionPay POS ECB MAC; x919: ANSI X9.19'),
  signedOn: z.boolean(),
  batchNo: z.string(),
});
const TerminalCreate = z.strictObject({
  ...Terminal.pick({ terminalId: true, merchantId: true }).shape,
  status: Terminal.shape.status.default('active'),
  macAlgorithm: Terminal.shape.macAlgorithm.default('ecb'),
  tmkHex: tmkHexField,
});
const MasterKey = z.strictObject({ tmkHex: tmkHexField });
const StatusChange = z.object({ status: z.enum(['active', 'suspended', 'closed']), from: z.string().describe('ISO 8601') });
const TerminalPatch = z.strictObject(Terminal.pick({ merchantId: true, status: true, macAlgorithm: true }).partial().shape);
const Params = z.object({ terminalId });
const List = z.strictObject({
  merchantId: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

const columns = 'terminal_id, merchant_id, status, mac_algorithm, signed_on, batch_no';
type Row = { terminal_id: string; merchant_id: string; status: 'active' | 'suspended' | 'closed'; mac_algorithm: 'ecb' | 'x919'; signed_on: boolean; batch_no: string };
const toApi = (r: Row) => ({ terminalId: r.terminal_id, merchantId: r.merchant_id, status: r.status, macAlgorithm: r.mac_algorithm, signedOn: r.signed_on, batchNo: r.batch_no });
const fields = { terminals_pkey: 'body.terminalId', merchant: 'body.merchantId' };

export const terminalsPlugin: FastifyPluginAsyncZod<{ pool: Pool; kek: Kek; forget?: (terminalId: string) => Promise<void> }> = async (app, { pool, kek, forget }) => {
  const tags = ['terminals'];
  const config = { access: { roles: ['operator'] as const } };
  app.get('/', { config, schema: { tags, summary: 'List terminals', querystring: List, response: { 200: z.array(Terminal) } } }, async (req) => {
    const { rows } = await pool.query<Row>(
      `SELECT ${columns} FROM terminals WHERE ($1::text IS NULL OR merchant_id = $1) ORDER BY terminal_id LIMIT $2 OFFSET $3`,
      [req.query.merchantId ?? null, req.query.limit, req.query.offset]);
    return rows.map(toApi);
  });
  app.get('/:terminalId', { config, schema: { tags, summary: 'One terminal', params: Params, response: { 200: Terminal } } }, async (req) => {
    const { rows } = await pool.query<Row>(`SELECT ${columns} FROM terminals WHERE terminal_id = $1`, [req.params.terminalId]);
    if (!rows[0]) throw new HttpProblem(404, 'Not Found', `terminalId: no terminal ${req.params.terminalId}`);
    return toApi(rows[0]);
  });
  app.post('/', { config, schema: { tags, summary: 'Add a terminal with its master key', body: TerminalCreate, response: { 201: Terminal } } }, async (req, reply) => {
    const b = req.body;
    try {
      const { rows } = await pool.query<Row>(
        `INSERT INTO terminals (terminal_id, merchant_id, status, mac_algorithm, tmk_enc) VALUES ($1, $2, $3, $4, $5) RETURNING ${columns}`,
        [b.terminalId, b.merchantId, b.status, b.macAlgorithm, kek.encrypt(Buffer.from(b.tmkHex, 'hex'))]);
      const made = toApi(rows[0]!);
      await recordAudit(pool, req.principal!, { action: 'terminal.create', subject: made.terminalId, after: made });
      reply.code(201);
      return made;
    } catch (err) {
      rethrowAsProblem(err, fields);
    }
  });
  app.patch('/:terminalId', {
    config,
    schema: {
      tags, summary: 'Enable (status active) or disable a terminal, move it to another merchant, change its MAC algorithm. Status changes are kept as history (the monthly usage fee counts the days a terminal was enabled); the shared Redis copy is dropped at once, in-process copies expire within 60 s',
      params: Params, body: TerminalPatch, response: { 200: Terminal },
    },
  }, async (req) => {
    const b = req.body;
    const id = req.params.terminalId;
    let change: { before: Row; after: Row };
    try {
      change = await inTransaction(pool, async (c) => {
        const before = (await c.query<Row>(`SELECT ${columns} FROM terminals WHERE terminal_id = $1 FOR UPDATE`, [id])).rows[0];
        if (!before) throw new HttpProblem(404, 'Not Found', `terminalId: no terminal ${id}`);
        const after = (await c.query<Row>(
          `UPDATE terminals SET merchant_id = coalesce($2, merchant_id), status = coalesce($3, status),
                  mac_algorithm = coalesce($4, mac_algorithm), version = version + 1
           WHERE terminal_id = $1 RETURNING ${columns}`,
          [id, b.merchantId ?? null, b.status ?? null, b.macAlgorithm ?? null])).rows[0]!;
        if (after.status !== before.status) {
          // The status it had before any recorded change, since it was made; then this one, from now.
          await c.query(
            `INSERT INTO terminal_status_history (terminal_id, effective_at, status)
             SELECT $1, created_at, $2 FROM terminals WHERE terminal_id = $1 AND NOT EXISTS (SELECT 1 FROM terminal_status_history WHERE terminal_id = $1)`,
            [id, before.status]);
          await c.query('INSERT INTO terminal_status_history (terminal_id, effective_at, status) VALUES ($1, clock_timestamp(), $2)', [id, after.status]);
        }
        return { before, after };
      });
    } catch (err) {
      if (err instanceof HttpProblem) throw err;
      rethrowAsProblem(err, { merchant: 'body.merchantId' });
    }
    // Drop the ledger's cached copy so every switch sees the change on its next request.
    await forget?.(id);
    await recordAudit(pool, req.principal!, { action: 'terminal.update', subject: id, before: toApi(change.before), after: toApi(change.after) });
    return toApi(change.after);
  });

  app.get('/:terminalId/history', {
    config,
    schema: { tags, summary: 'The terminal\'s status over time, oldest first (enabled = active)', params: Params, response: { 200: z.array(StatusChange) } },
  }, async (req) => {
    const id = req.params.terminalId;
    const { rows } = await pool.query<{ status: Row['status']; effective_at: Date }>(
      `SELECT status, effective_at FROM terminal_status_history WHERE terminal_id = $1
       UNION ALL SELECT status, created_at FROM terminals t WHERE terminal_id = $1 AND NOT EXISTS (SELECT 1 FROM terminal_status_history h WHERE h.terminal_id = $1)
       ORDER BY effective_at`, [id]);
    if (rows.length === 0) throw new HttpProblem(404, 'Not Found', `terminalId: no terminal ${id}`);
    return rows.map((r) => ({ status: r.status, from: r.effective_at.toISOString() }));
  });

  app.post('/:terminalId/master-key', {
    config,
    schema: {
      tags, summary: 'Load a new master key (TMK): stored encrypted, never returned; the terminal must sign on again under it',
      params: Params, body: MasterKey, response: { 200: Terminal },
    },
  }, async (req) => {
    const id = req.params.terminalId;
    const { rows } = await pool.query<Row>(
      `UPDATE terminals SET tmk_enc = $2, signed_on = false, pik_enc = NULL, mak_enc = NULL, tdk_enc = NULL, keys_proven = true,
              prev_pik_enc = NULL, prev_mak_enc = NULL, prev_tdk_enc = NULL, version = version + 1
       WHERE terminal_id = $1 RETURNING ${columns}`, [id, kek.encrypt(Buffer.from(req.body.tmkHex, 'hex'))]);
    if (!rows[0]) throw new HttpProblem(404, 'Not Found', `terminalId: no terminal ${id}`);
    await forget?.(id);
    await recordAudit(pool, req.principal!, { action: 'terminal.master-key', subject: id, after: { masterKey: 'replaced' } });
    return toApi(rows[0]);
  });
};
