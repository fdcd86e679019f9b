-- Up Migration
-- The batch debit (ps_purchase_set) does less per debit and per batch; what it answers is unchanged.
-- Measured with pgbench on the function alone, the variants interleaved in one run (20 debits a call):
-- 6-7 % less time a call. Per call, about 0.3 ms is fixed and about 60 µs is per debit, most of it index
-- descents and inserts.
-- 1. No lookup of each item's key before the insert. The insert's ON CONFLICT already descends that index, and
--    a key that exists (a retransmission, a duplicate, a reversal marker) is rare on this path: its item comes
--    back {"retry": true} and the ledger runs it alone, where ps_purchase replays the stored answer. One index
--    descent less per debit.
-- 2. The answer is built once, in the insert, and returned from it (RETURNING response); the card's new
--    version and balance for the cache come from the locked row (version + 1, balance - points: the row is
--    ours until commit), so the update needs no RETURNING and no join back.
-- 3. plan_cache_mode = force_generic_plan. PL/pgSQL plans the statement for the actual arrays while the
--    custom plans look cheaper than the generic one, which they do for small batches: measured, a 5-debit call
--    took 2.7 ms re-planned against 1.05 ms on the generic plan. Low load, with its small batches, paid most.
--    Every lookup is by a unique key (see enable_seqscan), so the generic plan is the right one at any size.
CREATE OR REPLACE FUNCTION ps_purchase_set(p_terminal text[], p_batch text[], p_trace text[], p_date date[],
                                           p_merchant text[], p_card text[], p_amount bigint[], p_pvv text[])
RETURNS SETOF jsonb LANGUAGE plpgsql
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
  IF (SELECT count(DISTINCT x) FROM unnest(p_card) x) <> cardinality(p_card) THEN
    RETURN QUERY SELECT * FROM ps_purchase_batch(p_terminal, p_batch, p_trace, p_date, p_merchant, p_card, p_amount, p_pvv);
    RETURN;
  END IF;
  RETURN QUERY
  WITH j AS MATERIALIZED (
    SELECT u.*, nextval('authorisations_auth_id_seq') AS id, m.points_per_yuan AS rate, (c.c).balance, (c.c).version,
           CASE WHEN m.points_per_yuan IS NULL OR u.amount IS NULL OR u.amount <= 0 THEN 0
                ELSE (u.amount * m.points_per_yuan + 99) / 100 END AS pts,   -- ceil: round up to the whole point
           CASE
             WHEN u.amount IS NULL OR u.amount <= 0 THEN 'invalid-amount'
             WHEN m.points_per_yuan IS NULL THEN 'invalid-merchant'
             WHEN cd.kind IS NOT NULL THEN cd.kind
             WHEN (c.c).balance < (u.amount * m.points_per_yuan + 99) / 100 THEN 'insufficient-points'
           END AS kind
    FROM (SELECT * FROM unnest(p_terminal, p_batch, p_trace, p_date, p_merchant, p_card, p_amount, p_pvv)
                   WITH ORDINALITY AS u(t, b, tr, d, merchant, card, amount, pvv, i)
          ORDER BY card) u                                  -- lock the cards in card order: no deadlocks
    LEFT JOIN merchants m ON m.merchant_id = u.merchant AND m.status = 'active'
    -- FOR UPDATE: waits for a concurrent writer of the card and then reads its committed row, so every
    -- item is judged against the current balance, and the row stays ours until commit.
    LEFT JOIN LATERAL (SELECT c FROM cards c WHERE c.card_no = u.card FOR UPDATE) c ON true
    -- the card rules every debit shares (unknown, lost, frozen, closed, expired, not enrolled, PIN)
    CROSS JOIN LATERAL (SELECT ps_card_decline(c.c, (c.c).card_no IS NOT NULL, u.d, u.pvv) -> 'decline' ->> 'kind' AS kind) cd
  ), ins AS (
    -- invalid amount / merchant are answered, not stored (as on the single path)
    INSERT INTO authorisations (auth_id, terminal_id, batch_no, trace, business_date, kind, card_no, merchant_id,
                                amount_fen, points, points_per_yuan, state, response_code, response, rrn, auth_code)
    SELECT j.id, j.t, j.b, j.tr, j.d, 'purchase', j.card, j.merchant, j.amount,
           CASE WHEN j.kind IS NULL THEN j.pts ELSE 0 END, j.rate,
           CASE WHEN j.kind IS NULL THEN 'approved' ELSE 'declined' END,
           CASE WHEN j.kind IS NULL THEN '00'
                ELSE coalesce((SELECT rc.code FROM response_codes rc WHERE rc.kind = j.kind), '96') END,
           CASE WHEN j.kind IS NULL THEN jsonb_build_object('ok', true, 'rrn', ps_rrn(j.id), 'authCode', ps_auth_code(j.id),
                  'points', j.pts, 'amountFen', j.amount, 'balancePoints', j.balance - j.pts)
                WHEN j.kind = 'insufficient-points'
                  THEN jsonb_build_object('ok', false, 'decline', jsonb_build_object('kind', j.kind, 'balancePoints', j.balance))
                ELSE jsonb_build_object('ok', false, 'decline', jsonb_build_object('kind', j.kind)) END,
           CASE WHEN j.kind IS NULL THEN ps_rrn(j.id) END,
           CASE WHEN j.kind IS NULL THEN ps_auth_code(j.id) END
    FROM j
    WHERE j.kind IS NULL OR j.kind NOT IN ('invalid-amount', 'invalid-merchant')
    ORDER BY j.i
    ON CONFLICT ON CONSTRAINT authorisations_key DO NOTHING
    RETURNING auth_id, card_no, merchant_id, points, state, response
  ), t AS (
    INSERT INTO ledger_txns (card_no, kind, auth_id)
    SELECT card_no, 'purchase', auth_id FROM ins WHERE state = 'approved'
    RETURNING txn_id, auth_id
  ), e AS (
    INSERT INTO ledger_entries (txn_id, card_no, account_kind, merchant_id, bucket, points)
    SELECT t.txn_id, ins.card_no, v.account_kind, v.merchant_id, v.bucket, v.points
    FROM t JOIN ins ON ins.auth_id = t.auth_id
    CROSS JOIN LATERAL (VALUES ('member', NULL::text, NULL::smallint, -ins.points),
                               ('merchant', ins.merchant_id, (abs(hashtext(ins.card_no)) % 64)::smallint, ins.points))
      AS v(account_kind, merchant_id, bucket, points)
  ), upd AS (
    UPDATE cards c SET balance = c.balance - ins.points, version = c.version + 1
    FROM ins WHERE ins.state = 'approved' AND c.card_no = ins.card_no
  )
  SELECT CASE
           WHEN ins.state = 'approved'
             THEN ins.response || jsonb_build_object('card', jsonb_build_object('version', j.version + 1, 'balance', j.balance - j.pts))
           WHEN ins.auth_id IS NOT NULL THEN ins.response
           WHEN j.kind IN ('invalid-amount', 'invalid-merchant') THEN jsonb_build_object('ok', false, 'decline', jsonb_build_object('kind', j.kind))
           -- its key exists, or was claimed by a concurrent transaction: the caller runs it alone, where it replays
           ELSE '{"ok": false, "retry": true}'::jsonb
         END
  FROM j LEFT JOIN ins ON ins.auth_id = j.id
  ORDER BY j.i;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION ps_purchase_set(p_terminal text[], p_batch text[], p_trace text[], p_date date[],
                                           p_merchant text[], p_card text[], p_amount bigint[], p_pvv text[])
RETURNS SETOF jsonb LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
BEGIN
  IF (SELECT count(DISTINCT x) FROM unnest(p_card) x) <> cardinality(p_card) THEN
    RETURN QUERY SELECT * FROM ps_purchase_batch(p_terminal, p_batch, p_trace, p_date, p_merchant, p_card, p_amount, p_pvv);
    RETURN;
  END IF;
  RETURN QUERY
  WITH u AS MATERIALIZED (
    SELECT u.*, nextval('authorisations_auth_id_seq') AS id
    FROM unnest(p_terminal, p_batch, p_trace, p_date, p_merchant, p_card, p_amount, p_pvv)
         WITH ORDINALITY AS u(t, b, tr, d, merchant, card, amount, pvv, i)
  ), j AS MATERIALIZED (
    SELECT u.*, m.points_per_yuan AS rate, (c.c).balance, (c.c).version, ex.a AS ex, (ex.a).auth_id AS ex_id,
           CASE WHEN m.points_per_yuan IS NULL OR u.amount IS NULL OR u.amount <= 0 THEN 0
                ELSE (u.amount * m.points_per_yuan + 99) / 100 END AS pts,
           CASE
             WHEN u.amount IS NULL OR u.amount <= 0 THEN 'invalid-amount'
             WHEN m.points_per_yuan IS NULL THEN 'invalid-merchant'
             WHEN cd.kind IS NOT NULL THEN cd.kind
             WHEN (c.c).balance < (u.amount * m.points_per_yuan + 99) / 100 THEN 'insufficient-points'
           END AS kind
    FROM (SELECT * FROM u ORDER BY u.card) u
    LEFT JOIN merchants m ON m.merchant_id = u.merchant AND m.status = 'active'
    LEFT JOIN LATERAL (SELECT c FROM cards c WHERE c.card_no = u.card FOR UPDATE) c ON true
    LEFT JOIN LATERAL (SELECT a FROM authorisations a
                       WHERE a.terminal_id = u.t AND a.batch_no = u.b AND a.trace = u.tr AND a.business_date = u.d) ex ON true
    CROSS JOIN LATERAL (SELECT ps_card_decline(c.c, (c.c).card_no IS NOT NULL, u.d, u.pvv) -> 'decline' ->> 'kind' AS kind) cd
  ), r AS MATERIALIZED (
    SELECT j.*,
           CASE WHEN j.kind IS NULL THEN jsonb_build_object('ok', true,
                  'rrn', lpad((j.id % 1000000000000)::text, 12, '0'), 'authCode', lpad(((j.id * 7919) % 1000000)::text, 6, '0'),
                  'points', j.pts, 'amountFen', j.amount, 'balancePoints', j.balance - j.pts)
                ELSE jsonb_build_object('ok', false, 'decline', CASE WHEN j.kind = 'insufficient-points'
                  THEN jsonb_build_object('kind', j.kind, 'balancePoints', j.balance) ELSE jsonb_build_object('kind', j.kind) END)
           END AS resp,
           j.ex_id IS NULL AND (j.kind IS NULL OR j.kind NOT IN ('invalid-amount', 'invalid-merchant')) AS new
    FROM j
  ), ins AS (
    INSERT INTO authorisations (auth_id, terminal_id, batch_no, trace, business_date, kind, card_no, merchant_id,
                                amount_fen, points, points_per_yuan, state, response_code, response, rrn, auth_code)
    SELECT r.id, r.t, r.b, r.tr, r.d, 'purchase', r.card, r.merchant, r.amount, r.pts * (r.kind IS NULL)::int, r.rate,
           CASE WHEN r.kind IS NULL THEN 'approved' ELSE 'declined' END,
           CASE WHEN r.kind IS NULL THEN '00' ELSE coalesce(rc.code, '96') END, r.resp,
           r.resp ->> 'rrn', r.resp ->> 'authCode'
    FROM r LEFT JOIN response_codes rc ON rc.kind = r.kind
    WHERE r.new
    ORDER BY r.i
    ON CONFLICT ON CONSTRAINT authorisations_key DO NOTHING
    RETURNING auth_id, card_no, merchant_id, points, state
  ), t AS (
    INSERT INTO ledger_txns (card_no, kind, auth_id)
    SELECT card_no, 'purchase', auth_id FROM ins WHERE state = 'approved'
    RETURNING txn_id, auth_id
  ), e AS (
    INSERT INTO ledger_entries (txn_id, card_no, account_kind, merchant_id, bucket, points)
    SELECT t.txn_id, ins.card_no, v.account_kind, v.merchant_id, v.bucket, v.points
    FROM t JOIN ins ON ins.auth_id = t.auth_id
    CROSS JOIN LATERAL (VALUES ('member', NULL::text, NULL::smallint, -ins.points),
                               ('merchant', ins.merchant_id, (abs(hashtext(ins.card_no)) % 64)::smallint, ins.points))
      AS v(account_kind, merchant_id, bucket, points)
  ), upd AS (
    UPDATE cards c SET balance = c.balance - ins.points, version = c.version + 1
    FROM ins WHERE ins.state = 'approved' AND c.card_no = ins.card_no
    RETURNING c.card_no, c.balance, c.version
  )
  SELECT CASE
           WHEN r.ex_id IS NOT NULL THEN ps_replay(r.ex, 'purchase', r.card, r.amount, r.merchant)
           WHEN NOT r.new THEN r.resp
           WHEN ins.auth_id IS NULL THEN '{"ok": false, "retry": true}'::jsonb
           WHEN upd.card_no IS NOT NULL THEN r.resp || jsonb_build_object('card', jsonb_build_object('version', upd.version, 'balance', upd.balance))
           ELSE r.resp
         END
  FROM r
  LEFT JOIN ins ON ins.auth_id = r.id
  LEFT JOIN upd ON upd.card_no = r.card
  ORDER BY r.i;
END $$;
