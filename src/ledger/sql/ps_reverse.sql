-- Reversal of a purchase, void or refund by the original's key, exactly once, whichever arrives first. No original
-- yet: a marker row takes its key, and the late original conflicts with it. Called by Ledger.reverse.
CREATE OR REPLACE FUNCTION ps_reverse(p_terminal text, p_batch text, p_trace text, p_date date, p_kind text, p_card text, p_amount bigint)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE c cards%ROWTYPE; o authorisations%ROWTYPE; p authorisations%ROWTYPE; v_move bigint; v_balance bigint;
BEGIN
  PERFORM 1 FROM cards WHERE card_no = p_card FOR UPDATE;
  INSERT INTO authorisations (terminal_id, batch_no, trace, business_date, kind, card_no, amount_fen, state,
                              response_code, response)
  VALUES (p_terminal, p_batch, p_trace, p_date, p_kind, p_card, p_amount, 'reversal_marker', '00', '{"ok": true}')
  ON CONFLICT ON CONSTRAINT authorisations_key DO NOTHING;
  IF FOUND THEN RETURN jsonb_build_object('ok', true, 'reversed', false, 'marker', true); END IF;
  SELECT * INTO o FROM authorisations
    WHERE terminal_id = p_terminal AND batch_no = p_batch AND trace = p_trace AND business_date = p_date FOR UPDATE;
  IF o.kind <> p_kind OR o.state NOT IN ('approved', 'partially_refunded', 'refunded') THEN
    RETURN jsonb_build_object('ok', true, 'reversed', false, 'state', o.state);
  END IF;
  IF o.card_no <> p_card THEN PERFORM 1 FROM cards WHERE card_no = o.card_no FOR UPDATE; END IF;
  SELECT * INTO c FROM cards WHERE card_no = o.card_no;
  IF o.kind = 'purchase' THEN
    v_move := o.points - o.refunded_points;                      -- give back what is still debited
  ELSE
    v_move := -o.points;                                         -- take back what the void/refund gave
    IF c.balance < o.points THEN
      RETURN ps_decline('insufficient-points', jsonb_build_object('balancePoints', c.balance));
    END IF;
    SELECT * INTO p FROM authorisations WHERE auth_id = o.original_auth_id FOR UPDATE;
    IF o.kind = 'void' THEN
      UPDATE authorisations SET state = 'approved' WHERE auth_id = p.auth_id;
    ELSE
      UPDATE authorisations
        SET refunded_fen = refunded_fen - o.amount_fen, refunded_points = refunded_points - o.points,
            state = CASE WHEN refunded_fen - o.amount_fen = 0 THEN 'approved' ELSE 'partially_refunded' END
        WHERE auth_id = p.auth_id;
    END IF;
  END IF;
  UPDATE authorisations SET state = 'reversed' WHERE auth_id = o.auth_id;
  IF v_move <> 0 THEN PERFORM ps_post(o.card_no, 'reversal', o.auth_id, v_move, 'merchant', o.merchant_id, ps_open_date(p_date)); END IF;
  v_balance := c.balance + v_move;
  RETURN jsonb_build_object('ok', true, 'reversed', true, 'balancePoints', v_balance,
                            'card', jsonb_build_object('version', c.version + CASE WHEN v_move <> 0 THEN 1 ELSE 0 END, 'balance', v_balance));
END $function$;
