-- A batch with a card twice, debited one item at a time (ps_purchase) in order, so each sees the ones before it.
-- The ledger's batcher never sends one (a card's second debit waits for the next batch); this keeps the batch
-- debits' answer right for any other caller. Cards are locked first, in card order (no deadlocks); each approval
-- comes back with the card's version and balance after the whole batch (the cache keeps the newest), its answer
-- without them. Called by ps_purchase_set and ps_purchase_set_keyed.
CREATE OR REPLACE FUNCTION ps_purchase_each(p_terminal text[], p_batch text[], p_trace text[], p_date date[], p_merchant text[], p_card text[], p_amount bigint[], p_pvv text[])
 RETURNS TABLE(answer jsonb, rrn text, auth_code text, points bigint, card_version bigint, card_balance bigint)
 LANGUAGE plpgsql
AS $function$
DECLARE answers jsonb[] := '{}';
BEGIN
  PERFORM 1 FROM cards WHERE card_no = ANY (p_card) ORDER BY card_no FOR UPDATE;
  FOR i IN 1 .. cardinality(p_card) LOOP
    answers := array_append(answers, ps_purchase(p_terminal[i], p_batch[i], p_trace[i], p_date[i], p_merchant[i], p_card[i], p_amount[i], p_pvv[i]));
  END LOOP;
  RETURN QUERY
  SELECT a.answer - 'card', NULL::text, NULL::text, NULL::bigint, c.version, c.balance
  FROM unnest(answers, p_card) WITH ORDINALITY AS a(answer, card_no, i)
  LEFT JOIN cards c ON c.card_no = a.card_no AND a.answer ? 'card'
  ORDER BY a.i;
END $function$;
