-- Accrual from the issuer's billing system, idempotent by its key. Called by Ledger.credit (src/ledger/debits.ts).
CREATE OR REPLACE FUNCTION ps_credit(p_key text, p_card text, p_points bigint, p_reason text)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE c cards%ROWTYPE; ex credits%ROWTYPE; v_txn bigint;
BEGIN
  IF p_points IS NULL OR p_points <= 0 THEN RETURN ps_decline('invalid-amount'); END IF;
  SELECT * INTO c FROM cards WHERE card_no = p_card FOR UPDATE;
  IF NOT FOUND THEN RETURN ps_decline('unknown-card'); END IF;
  SELECT * INTO ex FROM credits WHERE idempotency_key = p_key;
  IF FOUND THEN
    IF ex.card_no = p_card AND ex.points = p_points THEN
      RETURN jsonb_build_object('ok', true, 'balancePoints', ex.balance_after, 'replayed', true);
    END IF;
    RETURN ps_decline('duplicate');
  END IF;
  v_txn := ps_post(p_card, 'credit', NULL, p_points, 'issuer_accrual', NULL, NULL);
  INSERT INTO credits (idempotency_key, card_no, points, reason, txn_id, balance_after)
    VALUES (p_key, p_card, p_points, p_reason, v_txn, c.balance + p_points);
  RETURN jsonb_build_object('ok', true, 'balancePoints', c.balance + p_points, 'replayed', false,
                            'card', jsonb_build_object('version', c.version + 1, 'balance', c.balance + p_points));
END $function$;
