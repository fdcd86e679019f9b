CREATE OR REPLACE FUNCTION ps_purchase(p_terminal text, p_batch text, p_trace text, p_date date, p_merchant text, p_card text, p_amount bigint, p_pvv text)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  c cards%ROWTYPE; v_rate integer; v_points bigint; v_resp jsonb; v_id bigint; v_kind text;
  v_rrn text; v_auth text; v_txn bigint; ex authorisations%ROWTYPE;
BEGIN
  IF p_amount IS NULL OR p_amount <= 0 THEN RETURN ps_decline('invalid-amount'); END IF;
  SELECT points_per_yuan INTO v_rate FROM merchants WHERE merchant_id = p_merchant AND status = 'active';
  IF v_rate IS NULL THEN RETURN ps_decline('invalid-merchant'); END IF;
  v_points := (p_amount * v_rate + 99) / 100;                       -- ceil: round up to the whole point
  SELECT * INTO c FROM cards WHERE card_no = p_card FOR UPDATE;
  v_kind := CASE
    WHEN c.card_no IS NULL THEN 'unknown-card'
    WHEN c.status = 'lost' THEN 'card-lost'
    WHEN c.status = 'frozen' THEN 'card-frozen'
    WHEN c.status = 'closed' THEN 'card-closed'
    WHEN c.status = 'expired' OR c.expiry < to_char(p_date, 'YYMM') THEN 'card-expired'
    WHEN NOT c.enrolled THEN 'not-enrolled'
    WHEN c.pin_verification IS NOT NULL AND (p_pvv IS NULL OR p_pvv <> c.pin_verification) THEN 'incorrect-pin'
    WHEN c.balance < v_points THEN 'insufficient-points'
  END;
  v_id := nextval('authorisations_auth_id_seq');
  IF v_kind IS NULL THEN
    v_rrn := lpad((v_id % 1000000000000)::text, 12, '0');
    v_auth := lpad(((v_id * 7919) % 1000000)::text, 6, '0');
    v_resp := jsonb_build_object('ok', true, 'rrn', v_rrn, 'authCode', v_auth, 'points', v_points,
                                 'amountFen', p_amount, 'balancePoints', c.balance - v_points);
    INSERT INTO authorisations (auth_id, terminal_id, batch_no, trace, business_date, kind, card_no, merchant_id,
                                amount_fen, points, points_per_yuan, state, response_code, response, rrn, auth_code)
    VALUES (v_id, p_terminal, p_batch, p_trace, p_date, 'purchase', p_card, p_merchant, p_amount, v_points, v_rate,
            'approved', '00', v_resp, v_rrn, v_auth)
    ON CONFLICT ON CONSTRAINT authorisations_key DO NOTHING;
  ELSE
    v_resp := jsonb_build_object('ok', false, 'decline', CASE WHEN v_kind = 'insufficient-points'
      THEN jsonb_build_object('kind', v_kind, 'balancePoints', c.balance) ELSE jsonb_build_object('kind', v_kind) END);
    INSERT INTO authorisations (auth_id, terminal_id, batch_no, trace, business_date, kind, card_no, merchant_id,
                                amount_fen, points, points_per_yuan, state, response_code, response)
    VALUES (v_id, p_terminal, p_batch, p_trace, p_date, 'purchase', p_card, p_merchant, p_amount, 0, v_rate,
            'declined', coalesce((SELECT code FROM response_codes WHERE kind = v_kind), '96'), v_resp)
    ON CONFLICT ON CONSTRAINT authorisations_key DO NOTHING;
  END IF;
  IF NOT FOUND THEN
    SELECT * INTO ex FROM authorisations
      WHERE terminal_id = p_terminal AND batch_no = p_batch AND trace = p_trace AND business_date = p_date;
    RETURN ps_replay(ex, 'purchase', p_card, p_amount, p_merchant);
  END IF;
  IF v_kind IS NOT NULL THEN RETURN v_resp; END IF;
  INSERT INTO ledger_txns (card_no, kind, auth_id, member_points, counter_kind, merchant_id, bucket)
    VALUES (p_card, 'purchase', v_id, -v_points, 'merchant', p_merchant, (abs(hashtext(p_card)) % 64)::smallint);
  UPDATE cards SET balance = balance - v_points, version = version + 1 WHERE card_no = p_card;
  RETURN v_resp || jsonb_build_object('card', jsonb_build_object('version', c.version + 1, 'balance', c.balance - v_points));
END $function$;
