// Demo and load data (`pointswitch seed --demo`): the merchants, terminals and cards the tests, simulators and
// docs use. Idempotent: rows that exist are left alone; new cards get their opening balance as a balanced
// 'opening' txn.
import type { Pool } from '../db/pool.js';
import type { Kek } from './kek.js';

export const demoTmkHex = '0123456789ABCDEFFEDCBA9876543210';
export const demoAcquirerId = '48160000';
export const demoMerchants = [
  { merchantId: '898310048160001', name: 'Demo Coffee', pointsPerYuan: 50, feeRateBp: 60 },
  { merchantId: '898310048160002', name: 'Discount Mart', pointsPerYuan: 45, feeRateBp: 80 },
];
export const demoTerminals = [
  { terminalId: '10000001', merchantId: '898310048160001' },
  { terminalId: '10000002', merchantId: '898310048160001' },
  { terminalId: '20000001', merchantId: '898310048160002' },
];
export interface SeedCard { cardNo: string; status: string; expiry: string; tier: string; enrolled: boolean; points: number; pin: string | null }
export const demoCards: SeedCard[] = [
  { cardNo: '8860000000000001', status: 'active', expiry: '3012', tier: 'gold', enrolled: true, points: 100_000, pin: '123456' },
  { cardNo: '8860000000000002', status: 'active', expiry: '3012', tier: 'silver', enrolled: true, points: 500, pin: null },
  { cardNo: '8860000000000003', status: 'lost', expiry: '3012', tier: 'regular', enrolled: true, points: 10_000, pin: null },
  { cardNo: '8860000000000004', status: 'frozen', expiry: '3012', tier: 'regular', enrolled: true, points: 10_000, pin: null },
  { cardNo: '8860000000000005', status: 'expired', expiry: '2001', tier: 'regular', enrolled: true, points: 10_000, pin: null },
  { cardNo: '8860000000000006', status: 'active', expiry: '3012', tier: 'regular', enrolled: false, points: 0, pin: null },
  { cardNo: '8860000000000007', status: 'active', expiry: '3012', tier: 'diamond', enrolled: true, points: 1_000_000, pin: null },
];
export const loadCardPoints = 10_000_000;
export const loadTerminalId = (i: number) => `9${String(i).padStart(7, '0')}`;
export const loadCardNo = (i: number) => `8861${String(i).padStart(12, '0')}`;

export interface SeedRow { what: string; made: number; existing: number }

export async function seedDemo(pool: Pool, kek: Kek, o: { loadTerminals?: number; loadCards?: number } = {}): Promise<SeedRow[]> {
  const out: SeedRow[] = [];
  const m = await pool.query(
    `INSERT INTO merchants (merchant_id, name, points_per_yuan, fee_rate_bp)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[]) ON CONFLICT DO NOTHING`,
    [demoMerchants.map((x) => x.merchantId), demoMerchants.map((x) => x.name), demoMerchants.map((x) => x.pointsPerYuan),
      demoMerchants.map((x) => x.feeRateBp)]);
  out.push({ what: 'merchants', made: m.rowCount ?? 0, existing: demoMerchants.length - (m.rowCount ?? 0) });
  const terminals = [...demoTerminals];
  for (let i = 1; i <= (o.loadTerminals ?? 0); i++) terminals.push({ terminalId: loadTerminalId(i), merchantId: demoMerchants[0]!.merchantId });
  const made = await insertTerminals(pool, kek, terminals);
  out.push({ what: 'terminals', made, existing: terminals.length - made });
  const cards = demoCards.map((c) => ({ ...c, pvv: c.pin ? kek.pinVerification(c.cardNo, c.pin) : null }));
  const madeCards = await insertCards(pool, cards);
  out.push({ what: 'demo cards', made: madeCards, existing: cards.length - madeCards });
  const load = o.loadCards ?? 0;
  if (load > 0) {
    let madeLoad = 0;
    for (let from = 1; from <= load; from += 10_000) {
      const to = Math.min(load, from + 9_999);
      const chunk: Array<SeedCard & { pvv: string | null }> = [];
      for (let i = from; i <= to; i++) {
        chunk.push({ cardNo: loadCardNo(i), status: 'active', expiry: '3012', tier: 'regular', enrolled: true, points: loadCardPoints, pin: null, pvv: null });
      }
      madeLoad += await insertCards(pool, chunk);
    }
    out.push({ what: 'load cards', made: madeLoad, existing: load - madeLoad });
  }
  return out;
}

async function insertTerminals(pool: Pool, kek: Kek, terminals: Array<{ terminalId: string; merchantId: string }>): Promise<number> {
  let made = 0;
  const tmk = Buffer.from(demoTmkHex, 'hex');
  for (let i = 0; i < terminals.length; i += 5_000) {
    const chunk = terminals.slice(i, i + 5_000);
    const r = await pool.query(
      `INSERT INTO terminals (terminal_id, merchant_id, tmk_enc, mac_algorithm)
       SELECT t, m, k, 'ecb' FROM unnest($1::text[], $2::text[], $3::bytea[]) AS u(t, m, k) ON CONFLICT DO NOTHING`,
      [chunk.map((t) => t.terminalId), chunk.map((t) => t.merchantId), chunk.map(() => kek.encrypt(tmk))]);
    made += r.rowCount ?? 0;
  }
  return made;
}

async function insertCards(pool: Pool, cards: Array<SeedCard & { pvv: string | null }>): Promise<number> {
  const r = await pool.query(
    `WITH made AS (
       INSERT INTO cards (card_no, status, expiry, tier, enrolled, pin_verification, balance)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[], $7::bigint[])
       ON CONFLICT DO NOTHING RETURNING card_no, balance
     ), txns AS (
       -- the opening balance: the member's side, and the issuer's accrual account on the other (ledger_entries)
       INSERT INTO ledger_txns (card_no, kind, member_points, counter_kind)
       SELECT card_no, 'opening', balance, 'issuer_accrual' FROM made WHERE balance > 0
     )
     SELECT count(*)::int AS n FROM made`,
    [cards.map((c) => c.cardNo), cards.map((c) => c.status), cards.map((c) => c.expiry), cards.map((c) => c.tier),
      cards.map((c) => c.enrolled), cards.map((c) => c.pvv), cards.map((c) => c.points)]);
  return r.rows[0].n as number;
}
