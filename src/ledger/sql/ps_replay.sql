-- An existing row under a request's key: the stored answer (same content), or a duplicate (different content), or
-- reversed-before-arrival (a reversal's marker). Called by ps_purchase, ps_void, ps_refund, ps_purchase_set_keyed
-- and Ledger's read of a stored answer (src/ledger/debits.ts).
CREATE OR REPLACE FUNCTION ps_replay(ex authorisations, p_kind text, p_card text, p_amount bigint, p_merchant text)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
  SELECT CASE
    WHEN ex.state = 'reversal_marker' THEN ps_decline('reversed-before-arrival')
    WHEN ex.kind = p_kind AND ex.card_no = p_card AND ex.amount_fen = p_amount
         AND ex.merchant_id IS NOT DISTINCT FROM p_merchant THEN ps_answer(ex) || '{"replayed": true}'
    ELSE ps_decline('duplicate')
  END
$function$;
