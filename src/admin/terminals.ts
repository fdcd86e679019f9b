// /terminals: POS terminals, their merchant, status and MAC algorithm. The master key (TMK) is written once,
// encrypted under the KEK, and never read back; working keys are never exposed.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Pool } from '../db/pool.js';
import type { Kek } from '../ledger/index.js';
import { recordAudit } from './audit-trail.js';
import { rethrowAsProblem } from './db-errors.js';
import { HttpProblem } from './problem.js';

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
  tmkHex: z.string().regex(/^([0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})$/, { message: 'must be 16 or 32 hex digits' }).describe('terminal master key, clear, as loaded into the terminal; stored encrypted, never returned'),
});
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
    schema: { tags, summary: 'Change a terminal (the shared Redis copy is dropped at once; in-process copies expire within 60 s)', params: Params, body: TerminalPatch, response: { 200: Terminal } },
  }, async (req) => {
    const b = req.body;
    const before = await pool.query<Row>(`SELECT ${columns} FROM terminals WHERE terminal_id = $1`, [req.params.terminalId]);
    try {
      const { rows } = await pool.query<Row>(
        `UPDATE terminals SET merchant_id = coalesce($2, merchant_id), status = coalesce($3, status),
                mac_algorithm = coalesce($4, mac_algorithm), version = version + 1
         WHERE terminal_id = $1 RETURNING ${columns}`,
        [req.params.terminalId, b.merchantId ?? null, b.status ?? null, b.macAlgorithm ?? null]);
      if (!rows[0]) throw new HttpProblem(404, 'Not Found', `terminalId: no terminal ${req.params.terminalId}`);
      // Drop the ledger's cached copy so every switch sees the change on its next request.
      await forget?.(req.params.terminalId);
      const after = toApi(rows[0]);
      await recordAudit(pool, req.principal!, { action: 'terminal.update', subject: after.terminalId, before: before.rows[0] ? toApi(before.rows[0]) : null, after });
      return after;
    } catch (err) {
      if (err instanceof HttpProblem) throw err;
      rethrowAsProblem(err, { merchant: 'body.merchantId' });
    }
  });
};
