// /cards: VIP cards. Balances move only through the ledger (an opening balance is a ledger credit); status
// changes go through the ledger too, so its cache is rewritten at once.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { maskPan } from '../../protocol/mask.js';
import type { Kek, Ledger } from '../ledger/index.js';
import { recordAudit } from './audit-trail.js';
import { rethrowAsProblem } from './db-errors.js';
import { HttpProblem } from './problem.js';

const cardNo = z.string().regex(/^\d{12,19}$/, { message: 'must be 12 to 19 digits' });
const status = z.enum(['active', 'frozen', 'lost', 'expired', 'closed']);
const Card = z.object({
  cardNo: z.string().describe('masked: first 6 and last 4 digits (a card is looked up by its full number in the path)'),
  status,
  expiry: z.string().regex(/^\d{2}(0[1-9]|1[0-2])$/, { message: 'must be YYMM with a month 01-12' }),
  tier: z.enum(['diamond', 'gold', 'silver', 'vip', 'regular']),
  enrolled: z.boolean(),
  pinRequired: z.boolean(),
  balancePoints: z.number().int(),
});
const CardCreate = z.strictObject({
  cardNo,
  expiry: Card.shape.expiry,
  tier: Card.shape.tier.default('regular'),
  enrolled: z.boolean().default(true),
  pin: z.string().regex(/^\d{4,12}$/, { message: 'must be 4 to 12 digits' }).optional().describe('stored only as a keyed hash'),
  openingPoints: z.number().int().min(0).max(1_000_000_000).default(0),
});
const CardPatch = z.strictObject({ status });
const PinBody = z.strictObject({ pin: z.string().regex(/^\d{4,12}$/, { message: 'must be 4 to 12 digits' }).nullable() });
/** The status changes a card allows: frozen and unfrozen at will, lost only to closed, closed for good. */
const allowedChanges: Record<z.infer<typeof status>, Array<z.infer<typeof status>>> = {
  active: ['frozen', 'lost', 'expired', 'closed'],
  frozen: ['active', 'lost', 'closed'],
  lost: ['closed'],
  expired: ['closed'],
  closed: [],
};
const Params = z.object({ cardNo });
const List = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100), offset: z.coerce.number().int().min(0).default(0) });

const columns = 'card_no, status, expiry, tier, enrolled, pin_verification IS NOT NULL AS pin_required, balance';
type Row = { card_no: string; status: z.infer<typeof status>; expiry: string; tier: z.infer<typeof Card.shape.tier>; enrolled: boolean; pin_required: boolean; balance: string };
const toApi = (r: Row) => ({
  cardNo: maskPan(r.card_no), status: r.status, expiry: r.expiry, tier: r.tier, enrolled: r.enrolled, pinRequired: r.pin_required, balancePoints: Number(r.balance),
});

export const cardsPlugin: FastifyPluginAsyncZod<{ ledger: Ledger; kek: Kek }> = async (app, { ledger, kek }) => {
  const tags = ['cards'];
  const config = { access: { roles: ['operator'] as const } };
  const pool = ledger.pool;
  const one = async (no: string) => {
    const { rows } = await pool.query<Row>(`SELECT ${columns} FROM cards WHERE card_no = $1`, [no]);
    if (!rows[0]) throw new HttpProblem(404, 'Not Found', 'cardNo: no such card');
    return toApi(rows[0]);
  };
  app.get('/', { config, schema: { tags, summary: 'List cards', querystring: List, response: { 200: z.array(Card) } } }, async (req) => {
    const { rows } = await pool.query<Row>(`SELECT ${columns} FROM cards ORDER BY card_no LIMIT $1 OFFSET $2`, [req.query.limit, req.query.offset]);
    return rows.map(toApi);
  });
  app.get('/:cardNo', { config, schema: { tags, summary: 'One card and its balance', params: Params, response: { 200: Card } } }, async (req) => one(req.params.cardNo));
  app.post('/', { config, schema: { tags, summary: 'Issue a card, with an opening balance credited through the ledger', body: CardCreate, response: { 201: Card } } }, async (req, reply) => {
    const b = req.body;
    try {
      await pool.query(
        'INSERT INTO cards (card_no, expiry, tier, enrolled, pin_verification) VALUES ($1, $2, $3, $4, $5)',
        [b.cardNo, b.expiry, b.tier, b.enrolled, b.pin ? kek.pinVerification(b.cardNo, b.pin) : null]);
    } catch (err) {
      rethrowAsProblem(err, { cards_pkey: 'body.cardNo', expiry: 'body.expiry' });
    }
    if (b.openingPoints > 0) {
      const r = await ledger.credit({ cardNo: b.cardNo, points: b.openingPoints, idempotencyKey: `admin-opening:${b.cardNo}`, reason: 'opening balance' });
      if (!r.ok) throw new HttpProblem(422, 'Opening balance refused', `openingPoints: ${r.decline.kind}`);
    }
    const made = await one(b.cardNo);
    await recordAudit(pool, req.principal!, { action: 'card.create', subject: b.cardNo, after: made });
    reply.code(201);
    return made;
  });
  app.patch('/:cardNo', {
    config,
    schema: {
      tags, summary: 'Freeze, unfreeze (active), report lost or close a card, effective at once. A lost card can only be closed, a closed one not changed',
      params: Params, body: CardPatch, response: { 200: Card },
    },
  }, async (req) => {
    const before = await one(req.params.cardNo);
    const to = req.body.status;
    if (to !== before.status && !allowedChanges[before.status].includes(to)) {
      throw new HttpProblem(409, 'Conflict', `body.status: a ${before.status} card cannot become ${to}${allowedChanges[before.status].length ? ` (only ${allowedChanges[before.status].join(' or ')})` : ''}`);
    }
    if (!(await ledger.setCardStatus(req.params.cardNo, to))) throw new HttpProblem(404, 'Not Found', 'cardNo: no such card');
    const after = await one(req.params.cardNo);
    await recordAudit(pool, req.principal!, { action: 'card.status', subject: req.params.cardNo, before, after });
    return after;
  });

  app.put('/:cardNo/pin', {
    config,
    schema: { tags, summary: 'Set the card\'s PIN (stored as a keyed hash, never the PIN), or remove it with null', params: Params, body: PinBody, response: { 200: Card } },
  }, async (req) => {
    const before = await one(req.params.cardNo);
    await ledger.setCardPin(req.params.cardNo, req.body.pin);
    const after = await one(req.params.cardNo);
    await recordAudit(pool, req.principal!, { action: 'card.pin', subject: req.params.cardNo, before: { pinRequired: before.pinRequired }, after: { pinRequired: after.pinRequired } });
    return after;
  });
};
