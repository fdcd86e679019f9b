-- A purchase the ledger declines before trying it (the Redis pre-check saw that the card cannot pay): its decline
-- stored under the request's key like any other answer, so a retransmission is answered the same, or, when the key
-- is taken (a retransmission of an earlier answer, a reversal's marker), the answer stored there (ps_replay). NULL:
-- stored now. No card lock and no ledger row; the commit does not wait for the disk (synchronous_commit off for
-- this transaction): a decline lost in a crash is judged again when it is sent again, as before it was stored.
-- Called by the ledger (src/ledger/debits.ts).
CREATE OR REPLACE FUNCTION ps_purchase_declined(p_terminal text, p_batch text, p_trace text, p_date date, p_merchant text,
                                                p_card text, p_amount bigint, p_rate integer, p_resp jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE ex authorisations%ROWTYPE;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  INSERT INTO authorisations (terminal_id, batch_no, trace, business_date, kind, card_no, merchant_id, amount_fen, points,
                              points_per_yuan, state, response_code, response)
  VALUES (p_terminal, p_batch, p_trace, p_date, 'purchase', p_card, p_merchant, p_amount, 0, p_rate, 'declined',
          ps_code(p_resp), p_resp)
  ON CONFLICT ON CONSTRAINT authorisations_key DO NOTHING;
  IF FOUND THEN RETURN NULL; END IF;
  SELECT * INTO ex FROM authorisations
    WHERE terminal_id = p_terminal AND batch_no = p_batch AND trace = p_trace AND business_date = p_date;
  RETURN ps_replay(ex, 'purchase', p_card, p_amount, p_merchant);
END $function$;
