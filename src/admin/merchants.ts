// /merchants: the merchants terminals belong to, with their points rate and fee.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Pool } from '../db/pool.js';
import { businessDateOf } from '../ledger/card-rules.js';
import { changeRates, rateHistory, type MerchantRate, type RateChangeOutcome } from '../ledger/merchant-rates.js';
import { recordAudit } from './audit-trail.js';
import { FieldProblem, rethrowAsProblem } from './db-errors.js';
import { HttpProblem } from './problem.js';

const status = z.enum(['active', 'suspended', 'closed']);
const merchantId = z.string().regex(/^\d{15}$/, { message: 'must be 15 digits' });
export const Merchant = z.object({
  merchantId,
  name: z.string().min(1).max(100),
  status,
  pointsPerYuan: z.number().int().min(1).max(100_000).describe('points spent per yuan of the purchase amount'),
  feeRateBp: z.number().int().min(0).max(10_000).describe('merchant fee in basis points'),
});
const MerchantCreate = z.strictObject({ ...Merchant.shape, status: status.default('active') });
const MerchantPatch = z.strictObject(Merchant.omit({ merchantId: true }).partial().shape);
const Params = z.object({ merchantId });
const Rate = z.object({
  effectiveFrom: z.string().nullable().describe('the business date it takes effect (Asia/Shanghai); null: in force since the merchant was added'),
  pointsPerYuan: z.number().int(),
  feeRateBp: z.number().int(),
});
const RateChangeBody = z.strictObject({
  pointsPerYuan: Merchant.shape.pointsPerYuan.optional(),
  feeRateBp: Merchant.shape.feeRateBp.optional(),
  effectiveFrom: z.iso.date().optional().describe('YYYY-MM-DD, a business date; default today'),
}).refine((b) => b.pointsPerYuan !== undefined || b.feeRateBp !== undefined, { message: 'give pointsPerYuan, feeRateBp or both', path: ['pointsPerYuan'] });
const List = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100), offset: z.coerce.number().int().min(0).default(0) });

const columns = 'merchant_id, name, status, points_per_yuan, fee_rate_bp';
type Row = { merchant_id: string; name: string; status: 'active' | 'suspended' | 'closed'; points_per_yuan: number; fee_rate_bp: number };
const toApi = (r: Row) => ({ merchantId: r.merchant_id, name: r.name, status: r.status, pointsPerYuan: r.points_per_yuan, feeRateBp: r.fee_rate_bp });

/** A rate change's outcome: its history, or the problem naming `field` (the date the change was given for). */
function rateHistoryOr(o: RateChangeOutcome, id: string, field: string): MerchantRate[] {
  switch (o.kind) {
    case 'changed': return o.history;
    case 'no-merchant': throw new HttpProblem(404, 'Not Found', `merchantId: no merchant ${id}`);
    case 'closed-period': throw new FieldProblem(409, 'Period closed', field,
      `clearing is closed through ${o.closedThrough}, and a closed period's fees never change: give a date after it`);
    default: { const never: never = o; throw new Error(`unmapped rate change outcome ${JSON.stringify(never)}`); }
  }
}

export const merchantsPlugin: FastifyPluginAsyncZod<{ pool: Pool; forget?: (merchantId: string) => Promise<void> }> = async (app, { pool, forget }) => {
  const tags = ['merchants'];
  const config = { access: { roles: ['operator'] as const } };
  const one = async (id: string) => {
    const { rows } = await pool.query<Row>(`SELECT ${columns} FROM merchants WHERE merchant_id = $1`, [id]);
    if (!rows[0]) throw new HttpProblem(404, 'Not Found', `merchantId: no merchant ${id}`);
    return toApi(rows[0]);
  };
  app.get('/', { config, schema: { tags, summary: 'List merchants', querystring: List, response: { 200: z.array(Merchant) } } }, async (req) => {
    const { rows } = await pool.query<Row>(`SELECT ${columns} FROM merchants ORDER BY merchant_id LIMIT $1 OFFSET $2`, [req.query.limit, req.query.offset]);
    return rows.map(toApi);
  });
  app.get('/:merchantId', { config, schema: { tags, summary: 'One merchant, with the rates in force today', params: Params, response: { 200: Merchant } } },
    async (req) => one(req.params.merchantId));
  app.post('/', { config, schema: { tags, summary: 'Add a merchant', body: MerchantCreate, response: { 201: Merchant } } }, async (req, reply) => {
    const b = req.body;
    try {
      const { rows } = await pool.query<Row>(
        `INSERT INTO merchants (merchant_id, name, status, points_per_yuan, fee_rate_bp) VALUES ($1, $2, $3, $4, $5) RETURNING ${columns}`,
        [b.merchantId, b.name, b.status, b.pointsPerYuan, b.feeRateBp]);
      const made = toApi(rows[0]!);
      await recordAudit(pool, req.principal!, { action: 'merchant.create', subject: made.merchantId, after: made });
      reply.code(201);
      return made;
    } catch (err) {
      rethrowAsProblem(err, { merchants_pkey: 'body.merchantId', points_per_yuan: 'body.pointsPerYuan', fee_rate_bp: 'body.feeRateBp' });
    }
  });
  app.patch('/:merchantId', {
    config,
    schema: {
      tags, summary: 'Rename, suspend or close a merchant; a rate given here changes from today (POST …/rates for another date). The shared Redis copy is dropped at once; in-process copies expire within 60 s',
      params: Params, body: MerchantPatch, response: { 200: Merchant },
    },
  }, async (req) => {
    const b = req.body;
    const id = req.params.merchantId;
    const before = await one(id);
    if (b.pointsPerYuan !== undefined || b.feeRateBp !== undefined) {
      rateHistoryOr(await changeRates(pool, id, { effectiveFrom: businessDateOf(), pointsPerYuan: b.pointsPerYuan, feeRateBp: b.feeRateBp }, businessDateOf()),
        id, b.pointsPerYuan !== undefined ? 'body.pointsPerYuan' : 'body.feeRateBp');
    }
    if (b.name !== undefined || b.status !== undefined) {
      await pool.query('UPDATE merchants SET name = coalesce($2, name), status = coalesce($3, status), version = version + 1 WHERE merchant_id = $1',
        [id, b.name ?? null, b.status ?? null]);
    }
    // Drop the ledger's cached copy so every switch sees the change on its next request.
    await forget?.(id);
    const after = await one(id);
    await recordAudit(pool, req.principal!, { action: 'merchant.update', subject: id, before, after });
    return after;
  });

  app.get('/:merchantId/rates', {
    config,
    schema: { tags, summary: 'The merchant\'s rate changes, oldest first (effectiveFrom null: since always)', params: Params, response: { 200: z.array(Rate) } },
  }, async (req) => {
    await one(req.params.merchantId);
    return rateHistory(pool, req.params.merchantId);
  });

  app.post('/:merchantId/rates', {
    config,
    schema: {
      tags, summary: 'Change the points rate and/or fee rate from a business date on (default today); clearing of a month uses the rates then in force',
      params: Params, body: RateChangeBody, response: { 200: z.array(Rate) },
    },
  }, async (req) => {
    const id = req.params.merchantId;
    const before = await rateHistory(pool, id);
    const today = businessDateOf();
    const history = rateHistoryOr(await changeRates(pool, id,
      { effectiveFrom: req.body.effectiveFrom ?? today, pointsPerYuan: req.body.pointsPerYuan, feeRateBp: req.body.feeRateBp }, today), id, 'body.effectiveFrom');
    await forget?.(id);
    await recordAudit(pool, req.principal!, { action: 'merchant.rates', subject: id, before, after: history });
    return history;
  });
};
