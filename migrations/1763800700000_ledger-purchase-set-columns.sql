-- Up Migration
-- The batch debit returns the card's new version and balance for the cache as two columns beside the stored
-- answer, instead of concatenating them into a copy of each answer as JSON (two jsonb_build_object calls and a
-- jsonb concatenation a debit, then larger JSON to print and parse). Measured with pgbench on the function alone,
-- the two versions interleaved in one run: about 4 % less time a 20-debit call (2.36 against 2.46 ms). A batch's
-- time in Postgres is on every purchase's round trip, so the switch's rate gains more than Postgres's CPU does
-- (leaving out the txn and entry rows, 16 % of a call, raised the switch's peak by a median 13 % in alternating
-- runs; that experiment is not a change).
-- A batch with a card twice still goes to ps_purchase_batch, whose answers carry the card inside; it is taken out
-- into the two columns here, so the caller reads one shape.
-- The return type changes, so the function is dropped and made again (no caller holds it across a migration:
-- the switch prepares its call per connection, after migrating).
DROP FUNCTION ps_purchase_set(text[], text[], text[], date[], text[], text[], bigint[], text[]);
CREATE FUNCTION ps_purchase_set(p_terminal text[], p_batch text[], p_trace text[], p_date date[],
                                           p_merchant text[], p_card text[], p_amount bigint[], p_pvv text[])
RETURNS TABLE (answer jsonb, card_version bigint, card_balance bigint) LANGUAGE plpgsql
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
  IF (SELECT count(DISTINCT x) FROM unnest(p_card) x) <> cardinality(p_card) THEN
    RETURN QUERY SELECT b - 'card', (b -> 'card' ->> 'version')::bigint, (b -> 'card' ->> 'balance')::bigint
                 FROM ps_purchase_batch(p_terminal, p_batch, p_trace, p_date, p_merchant, p_card, p_amount, p_pvv) b;
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
           WHEN ins.auth_id IS NOT NULL THEN ins.response
           WHEN j.kind IN ('invalid-amount', 'invalid-merchant') THEN jsonb_build_object('ok', false, 'decline', jsonb_build_object('kind', j.kind))
           -- its key exists, or was claimed by a concurrent transaction: the caller runs it alone, where it replays
           ELSE '{"ok": false, "retry": true}'::jsonb
         END,
         -- the card's new version and balance for the cache, from the locked row (it is ours until commit)
         CASE WHEN ins.state = 'approved' THEN j.version + 1 END,
         CASE WHEN ins.state = 'approved' THEN j.balance - j.pts END
  FROM j LEFT JOIN ins ON ins.auth_id = j.id
  ORDER BY j.i;
END $$;

-- Down Migration
DROP FUNCTION ps_purchase_set(text[], text[], text[], date[], text[], text[], bigint[], text[]);
CREATE FUNCTION ps_purchase_set(p_terminal text[], p_batch text[], p_trace text[], p_date date[],
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
