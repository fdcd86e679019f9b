-- A purchase the ledger declines before trying it (the Redis pre-check saw that the card cannot pay): its decline
-- stored under the request's key like any other answer, so a retransmission is answered the same, or, when the
-- key is taken (a retransmission of an earlier answer, a reversal's marker), the answer stored there
-- (ps_store_return). NULL: stored now. No card lock and no ledger row; the commit does not wait for the disk (synchronous_commit off for
-- this transaction): a decline lost in a crash is judged again when it is sent again, as before it was stored.
-- Called by the ledger (src/ledger/debits.ts).
CREATE OR REPLACE FUNCTION ps_purchase_declined(p_terminal text, p_batch text, p_trace text, p_date date, p_merchant text,
                                                p_card text, p_amount bigint, p_rate integer, p_resp jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  RETURN ps_store_return(nextval('authorisations_auth_id_seq'), p_terminal, p_batch, p_trace, p_date, 'purchase', p_card,
                         p_merchant, p_amount, 0, p_rate, p_resp, NULL, p_date);
END $function$;
