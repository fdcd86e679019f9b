-- An answer stored under its idempotency key: a void's or refund's (approved with its points, RRN and auth code,
-- or declined), or a purchase's decline made before it was tried. When the key is taken (a retransmission, a
-- concurrent request under the same key), the answer stored there, replayed. NULL: stored now. p_on: the date its
-- ledger row is cleared under (ps_open_date of p_date, taken once by the caller), kept as cleared_on when it is
-- not p_date. Called by ps_void, ps_refund and ps_purchase_declined.
CREATE OR REPLACE FUNCTION ps_store_return(p_id bigint, p_terminal text, p_batch text, p_trace text, p_date date, p_kind text,
                                           p_card text, p_merchant text, p_amount bigint, p_points bigint, p_rate integer,
                                           p_resp jsonb, p_original bigint, p_on date)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE v_ok boolean := coalesce((p_resp ->> 'ok')::boolean, false); ex authorisations%ROWTYPE;
BEGIN
  INSERT INTO authorisations (auth_id, terminal_id, batch_no, trace, business_date, kind, card_no, merchant_id,
                              amount_fen, points, points_per_yuan, state, response_code, response, rrn, auth_code,
                              original_auth_id, cleared_on)
  VALUES (p_id, p_terminal, p_batch, p_trace, p_date, p_kind, p_card, p_merchant, p_amount,
          CASE WHEN v_ok THEN p_points ELSE 0 END, p_rate, CASE WHEN v_ok THEN 'approved' ELSE 'declined' END,
          ps_code(p_resp), p_resp, CASE WHEN v_ok THEN ps_rrn(p_id) END, CASE WHEN v_ok THEN ps_auth_code(p_id) END,
          CASE WHEN v_ok THEN p_original END, CASE WHEN v_ok AND p_on <> p_date THEN p_on END)
  ON CONFLICT ON CONSTRAINT authorisations_key DO NOTHING;
  IF FOUND THEN RETURN NULL; END IF;
  SELECT * INTO ex FROM authorisations
    WHERE terminal_id = p_terminal AND batch_no = p_batch AND trace = p_trace AND business_date = p_date;
  RETURN ps_replay(ex, p_kind, p_card, p_amount, p_merchant);
END $function$;
