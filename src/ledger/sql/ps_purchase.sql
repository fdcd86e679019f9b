-- One purchase debit, one transaction: the plain path (one debit waiting, a batch's item that asked for a retry).
-- Judges the card (ps_card_decline) and its balance, stores the authorisation under the terminal's key and posts
-- the debit. An existing row under the key replays (ps_replay). Returns the answer as JSON plus 'card' {version,
-- balance} for the cache. Called by the ledger (src/ledger/debits.ts) and by ps_purchase_each.
-- The helpers it calls are SQL functions the planner inlines (a plpgsql call of a non-inlined one costs an
-- executor start-up).
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
  v_points := ps_points(p_amount, v_rate);
  SELECT * INTO c FROM cards WHERE card_no = p_card FOR UPDATE;
  v_kind := coalesce(ps_date_decline(p_date), ps_card_decline(c, p_date, p_pvv), CASE WHEN c.balance < v_points THEN 'insufficient-points' END);
  v_id := nextval('authorisations_auth_id_seq');
  IF v_kind IS NULL THEN
    v_rrn := ps_rrn(v_id);
    v_auth := ps_auth_code(v_id);
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
            'declined', ps_kind_code(v_kind), v_resp)
    ON CONFLICT ON CONSTRAINT authorisations_key DO NOTHING;
  END IF;
  IF NOT FOUND THEN
    SELECT * INTO ex FROM authorisations
      WHERE terminal_id = p_terminal AND batch_no = p_batch AND trace = p_trace AND business_date = p_date;
    RETURN ps_replay(ex, 'purchase', p_card, p_amount, p_merchant);
  END IF;
  IF v_kind IS NOT NULL THEN RETURN v_resp; END IF;
  INSERT INTO ledger_txns (card_no, kind, auth_id, member_points, counter_kind, merchant_id, bucket, business_date)
    VALUES (p_card, 'purchase', v_id, -v_points, 'merchant', p_merchant, ps_bucket(p_card), p_date);
  UPDATE cards SET balance = balance - v_points, version = version + 1 WHERE card_no = p_card;
  RETURN v_resp || jsonb_build_object('card', jsonb_build_object('version', c.version + 1, 'balance', c.balance - v_points));
END $function$;
