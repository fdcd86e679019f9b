-- Refund, partial or full, by the original's RRN (found through the id it is made of: ps_rrn_auth_id); never more
-- than the original's remaining amount or points; a partial refund gives back ps_points of its amount. Called by
-- Ledger.refund (src/ledger/debits.ts).
CREATE OR REPLACE FUNCTION ps_refund(p_terminal text, p_batch text, p_trace text, p_date date, p_merchant text, p_card text, p_amount bigint, p_orig_rrn text, p_orig_mmdd text)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE c cards%ROWTYPE; o authorisations%ROWTYPE; v_stored jsonb; v_found boolean;
        v_resp jsonb; v_id bigint; v_ok boolean; v_on date := ps_open_date(p_date); v_points bigint; v_left_fen bigint; v_left_points bigint;
BEGIN
  IF p_amount IS NULL OR p_amount <= 0 THEN RETURN ps_decline('invalid-amount'); END IF;
  SELECT * INTO c FROM cards WHERE card_no = p_card FOR UPDATE;
  v_found := FOUND;
  -- by the auth id the RRN is made of (ps_rrn), through the primary key; the RRN must match too
  SELECT * INTO o FROM authorisations WHERE auth_id = ps_rrn_auth_id(p_orig_rrn) AND rrn = p_orig_rrn AND kind = 'purchase' FOR UPDATE;
  v_left_fen := o.amount_fen - o.refunded_fen;
  v_left_points := o.points - o.refunded_points;
  v_points := CASE WHEN p_amount = v_left_fen THEN v_left_points
                   ELSE least(ps_points(p_amount, o.points_per_yuan), v_left_points) END;
  v_id := nextval(pg_get_serial_sequence('authorisations', 'auth_id'));
  v_resp := CASE
    WHEN NOT v_found THEN ps_decline('unknown-card')
    WHEN o.auth_id IS NULL OR o.card_no <> p_card OR o.merchant_id IS DISTINCT FROM p_merchant
         OR (p_orig_mmdd IS NOT NULL AND to_char(o.business_date, 'MMDD') <> p_orig_mmdd) THEN ps_decline('original-not-found')
    WHEN o.state NOT IN ('approved', 'partially_refunded') THEN ps_decline('original-not-refundable', jsonb_build_object('state', o.state))
    WHEN p_amount > v_left_fen THEN ps_decline('refund-exceeds-original', jsonb_build_object('refundablePoints', v_left_points))
  END;
  v_ok := v_resp IS NULL;
  IF v_ok THEN
    v_resp := jsonb_build_object('ok', true, 'rrn', ps_rrn(v_id), 'authCode', ps_auth_code(v_id), 'points', v_points,
                                 'amountFen', p_amount, 'balancePoints', c.balance + v_points);
  END IF;
  v_stored := ps_store_return(v_id, p_terminal, p_batch, p_trace, p_date, 'refund', p_card, p_merchant, p_amount, v_points,
                              o.points_per_yuan, v_resp, o.auth_id, v_on);
  IF v_stored IS NOT NULL THEN RETURN v_stored; END IF;
  IF v_ok THEN
    UPDATE authorisations
      SET refunded_fen = refunded_fen + p_amount, refunded_points = refunded_points + v_points,
          state = CASE WHEN refunded_fen + p_amount = amount_fen THEN 'refunded' ELSE 'partially_refunded' END
      WHERE auth_id = o.auth_id;
    PERFORM ps_post(p_card, 'refund', v_id, v_points, 'merchant', o.merchant_id, v_on);
    RETURN v_resp || jsonb_build_object('card', jsonb_build_object('version', c.version + 1, 'balance', c.balance + v_points));
  END IF;
  RETURN v_resp;
END $function$;
