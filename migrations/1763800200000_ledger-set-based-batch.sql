-- Up Migration
-- The batch debit as a handful of set-based statements per batch instead of a few statements per debit.
-- Order of work, all in the caller's one transaction:
--   1. lock every card of the batch, in card order (concurrent batches never deadlock);
--   2. read the batch's keys that already exist (retries, duplicates, reversal markers): they replay;
--   3. judge the new items in order in memory against each card's running balance (two debits of one card in
--      one batch: the second sees the first);
--   4. insert the authorisations (ON CONFLICT DO NOTHING: a key that appeared meanwhile replays instead),
--      then the txns and entries of the approved ones, then each card's balance once.
-- A key that was claimed concurrently after step 2 only made the running balance lower than needed for later
-- items of that card (a conservative decline), never an overdraft: balances move by what was inserted.
CREATE OR REPLACE FUNCTION ps_purchase_batch(p_terminal text[], p_batch text[], p_trace text[], p_date date[],
                                             p_merchant text[], p_card text[], p_amount bigint[], p_pvv text[])
RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
DECLARE
  n int := coalesce(array_length(p_card, 1), 0);
  r record; ex authorisations%ROWTYPE;
  v_ids bigint[]; v_resp jsonb[] := '{}'; v_state text[] := '{}'; v_points bigint[] := '{}'; v_rate int[] := '{}';
  v_code text[] := '{}'; v_new boolean[] := '{}'; v_inserted bigint[];
  v_spent jsonb := '{}'; v_seen jsonb := '{}'; v_existing int[];
  v_kind text; v_pts bigint; v_bal bigint; v_key text; v_rrn text; v_auth text; v_cards jsonb;
BEGIN
  PERFORM 1 FROM cards WHERE card_no = ANY (p_card) ORDER BY card_no FOR UPDATE;
  SELECT coalesce(array_agg(u.i), '{}') INTO v_existing
    FROM unnest(p_terminal, p_batch, p_trace, p_date) WITH ORDINALITY AS u(t, b, tr, d, i)
    JOIN authorisations a ON a.terminal_id = u.t AND a.batch_no = u.b AND a.trace = u.tr AND a.business_date = u.d;
  SELECT array_agg(nextval('authorisations_auth_id_seq')) INTO v_ids FROM generate_series(1, n);
  FOR r IN
    SELECT u.i, u.amount, u.pvv, u.d, m.points_per_yuan AS rate, c.card_no AS found, c.status, c.expiry, c.enrolled,
           c.pin_verification, c.balance
    FROM unnest(p_card, p_merchant, p_amount, p_pvv, p_date) WITH ORDINALITY AS u(card, merchant, amount, pvv, d, i)
    LEFT JOIN merchants m ON m.merchant_id = u.merchant AND m.status = 'active'
    LEFT JOIN cards c ON c.card_no = u.card
    ORDER BY u.i
  LOOP
    v_key := p_terminal[r.i] || '|' || p_batch[r.i] || '|' || p_trace[r.i] || '|' || p_date[r.i];
    v_new := v_new || (NOT (r.i = ANY (v_existing)) AND NOT v_seen ? v_key);
    v_seen := v_seen || jsonb_build_object(v_key, true);
    v_pts := CASE WHEN r.rate IS NULL OR r.amount IS NULL OR r.amount <= 0 THEN 0 ELSE (r.amount * r.rate + 99) / 100 END;
    v_bal := r.balance - coalesce((v_spent ->> p_card[r.i])::bigint, 0);
    v_kind := CASE
      WHEN r.amount IS NULL OR r.amount <= 0 THEN 'invalid-amount'
      WHEN r.rate IS NULL THEN 'invalid-merchant'
      WHEN r.found IS NULL THEN 'unknown-card'
      WHEN r.status = 'lost' THEN 'card-lost'
      WHEN r.status = 'frozen' THEN 'card-frozen'
      WHEN r.status = 'closed' THEN 'card-closed'
      WHEN r.status = 'expired' OR r.expiry < to_char(r.d, 'YYMM') THEN 'card-expired'
      WHEN NOT r.enrolled THEN 'not-enrolled'
      WHEN r.pin_verification IS NOT NULL AND (r.pvv IS NULL OR r.pvv <> r.pin_verification) THEN 'incorrect-pin'
      WHEN v_bal < v_pts THEN 'insufficient-points'
    END;
    IF v_kind IS NULL THEN
      IF v_new[r.i] THEN
        v_spent := v_spent || jsonb_build_object(p_card[r.i], coalesce((v_spent ->> p_card[r.i])::bigint, 0) + v_pts);
      END IF;
      v_rrn := lpad((v_ids[r.i] % 1000000000000)::text, 12, '0');
      v_auth := lpad(((v_ids[r.i] * 7919) % 1000000)::text, 6, '0');
      v_resp := v_resp || jsonb_build_object('ok', true, 'rrn', v_rrn, 'authCode', v_auth, 'points', v_pts,
                                             'amountFen', r.amount, 'balancePoints', v_bal - v_pts);
      v_state := v_state || 'approved'::text;
      v_code := v_code || '00'::text;
    ELSE
      -- invalid amount / merchant are not stored (as on the single path): mark them not new.
      IF v_kind IN ('invalid-amount', 'invalid-merchant') THEN v_new[r.i] := false; END IF;
      v_resp := v_resp || jsonb_build_object('ok', false, 'decline', CASE WHEN v_kind = 'insufficient-points'
        THEN jsonb_build_object('kind', v_kind, 'balancePoints', v_bal) ELSE jsonb_build_object('kind', v_kind) END);
      v_state := v_state || 'declined'::text;
      v_code := v_code || v_kind;
      v_pts := 0;
    END IF;
    v_points := v_points || v_pts;
    v_rate := v_rate || r.rate;
  END LOOP;

  WITH ins AS (
    INSERT INTO authorisations (auth_id, terminal_id, batch_no, trace, business_date, kind, card_no, merchant_id,
                                amount_fen, points, points_per_yuan, state, response_code, response, rrn, auth_code)
    SELECT u.id, u.t, u.b, u.tr, u.d, 'purchase', u.card, u.merchant, u.amount, u.pts, u.rate, u.state,
           CASE WHEN u.state = 'approved' THEN '00' ELSE coalesce(rc.code, '96') END, u.resp,
           CASE WHEN u.state = 'approved' THEN u.resp ->> 'rrn' END, CASE WHEN u.state = 'approved' THEN u.resp ->> 'authCode' END
    FROM unnest(v_ids, p_terminal, p_batch, p_trace, p_date, p_card, p_merchant, p_amount, v_points, v_rate, v_state, v_resp, v_code, v_new)
         WITH ORDINALITY AS u(id, t, b, tr, d, card, merchant, amount, pts, rate, state, resp, code, new, i)
    LEFT JOIN response_codes rc ON rc.kind = u.code
    WHERE u.new
    ORDER BY u.i
    ON CONFLICT ON CONSTRAINT authorisations_key DO NOTHING
    RETURNING auth_id
  )
  SELECT coalesce(array_agg(auth_id), '{}') INTO v_inserted FROM ins;

  WITH approved AS (
    SELECT u.id, u.card, u.merchant, u.pts
    FROM unnest(v_ids, p_card, p_merchant, v_points, v_state) AS u(id, card, merchant, pts, state)
    WHERE u.state = 'approved' AND u.id = ANY (v_inserted)
  ), t AS (
    INSERT INTO ledger_txns (card_no, kind, auth_id) SELECT card, 'purchase', id FROM approved RETURNING txn_id, auth_id
  ), e AS (
    INSERT INTO ledger_entries (txn_id, card_no, account_kind, merchant_id, bucket, points)
    SELECT t.txn_id, a.card, v.account_kind, v.merchant_id, v.bucket, v.points
    FROM t JOIN approved a ON a.id = t.auth_id
    CROSS JOIN LATERAL (VALUES ('member', NULL::text, NULL::smallint, -a.pts),
                               ('merchant', a.merchant, (abs(hashtext(a.card)) % 64)::smallint, a.pts))
      AS v(account_kind, merchant_id, bucket, points)
  ), upd AS (
    UPDATE cards c SET balance = c.balance - s.pts, version = c.version + 1
    FROM (SELECT card, sum(pts) AS pts FROM approved GROUP BY card) s
    WHERE c.card_no = s.card
    RETURNING c.card_no, c.balance, c.version
  )
  SELECT coalesce(jsonb_object_agg(card_no, jsonb_build_object('version', version, 'balance', balance)), '{}') INTO v_cards FROM upd;

  FOR i IN 1 .. n LOOP
    IF v_ids[i] = ANY (v_inserted) THEN
      IF v_state[i] = 'approved' THEN RETURN NEXT v_resp[i] || jsonb_build_object('card', v_cards -> p_card[i]);
      ELSE RETURN NEXT v_resp[i];
      END IF;
    ELSIF v_state[i] = 'declined' AND v_code[i] IN ('invalid-amount', 'invalid-merchant') THEN
      RETURN NEXT v_resp[i];
    ELSE
      SELECT * INTO ex FROM authorisations
        WHERE terminal_id = p_terminal[i] AND batch_no = p_batch[i] AND trace = p_trace[i] AND business_date = p_date[i];
      RETURN NEXT ps_replay(ex, 'purchase', p_card[i], p_amount[i], p_merchant[i]);
    END IF;
  END LOOP;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION ps_purchase_batch(p_terminal text[], p_batch text[], p_trace text[], p_date date[],
                                             p_merchant text[], p_card text[], p_amount bigint[], p_pvv text[])
RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM cards WHERE card_no = ANY (p_card) ORDER BY card_no FOR UPDATE;
  FOR i IN 1 .. coalesce(array_length(p_card, 1), 0) LOOP
    RETURN NEXT ps_purchase(p_terminal[i], p_batch[i], p_trace[i], p_date[i], p_merchant[i], p_card[i], p_amount[i], p_pvv[i]);
  END LOOP;
END $$;
