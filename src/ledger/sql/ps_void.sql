-- Void: same terminal, same batch, the full original amount; gives the points back. Called by Ledger.void (src/ledger/debits.ts).
CREATE OR REPLACE FUNCTION ps_void(p_terminal text, p_batch text, p_trace text, p_date date, p_merchant text, p_card text, p_amount bigint, p_orig_batch text, p_orig_trace text, p_orig_rrn text)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE c cards%ROWTYPE; o authorisations%ROWTYPE; v_stored jsonb; v_found boolean;
        v_resp jsonb; v_id bigint; v_ok boolean; v_on date := ps_open_date(p_date);
BEGIN
  SELECT * INTO c FROM cards WHERE card_no = p_card FOR UPDATE;
  v_found := FOUND;
  SELECT * INTO o FROM authorisations
    WHERE terminal_id = p_terminal AND batch_no = p_orig_batch AND trace = p_orig_trace AND kind = 'purchase'
      AND state NOT IN ('declined', 'reversal_marker') AND (p_orig_rrn IS NULL OR rrn = p_orig_rrn)
    ORDER BY business_date DESC LIMIT 1 FOR UPDATE;
  v_id := nextval(pg_get_serial_sequence('authorisations', 'auth_id'));
  v_resp := CASE
    WHEN NOT v_found THEN ps_decline('unknown-card')
    WHEN o.auth_id IS NULL OR o.card_no <> p_card THEN ps_decline('original-not-found')
    WHEN p_orig_batch <> p_batch THEN ps_decline('original-not-voidable', '{"state": "other-batch"}')
    WHEN o.state <> 'approved' THEN ps_decline('original-not-voidable', jsonb_build_object('state', o.state))
    WHEN o.amount_fen <> p_amount THEN ps_decline('original-amount-wrong')
  END;
  v_ok := v_resp IS NULL;
  IF v_ok THEN
    v_resp := jsonb_build_object('ok', true, 'rrn', ps_rrn(v_id), 'authCode', ps_auth_code(v_id), 'points', o.points,
                                 'amountFen', p_amount, 'balancePoints', c.balance + o.points);
  END IF;
  v_stored := ps_store_return(v_id, p_terminal, p_batch, p_trace, p_date, 'void', p_card, p_merchant, p_amount, o.points,
                              o.points_per_yuan, v_resp, o.auth_id, v_on);
  IF v_stored IS NOT NULL THEN RETURN v_stored; END IF;
  IF v_ok THEN
    UPDATE authorisations SET state = 'voided' WHERE auth_id = o.auth_id;
    PERFORM ps_post(p_card, 'void', v_id, o.points, 'merchant', o.merchant_id, v_on);
    RETURN v_resp || jsonb_build_object('card', jsonb_build_object('version', c.version + 1, 'balance', c.balance + o.points));
  END IF;
  RETURN v_resp;
END $function$;
