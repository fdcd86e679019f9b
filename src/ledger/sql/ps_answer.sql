-- The answer an authorisation was given: its stored answer, or, for an approval the batch debit stored as columns
-- (response NULL), made from them. Called by ps_replay and by Ledger's batch outcome (src/ledger/debits.ts makes the
-- same answer from ps_purchase_set's columns).
CREATE OR REPLACE FUNCTION ps_answer(a authorisations)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
  SELECT coalesce(a.response, jsonb_build_object('ok', true, 'rrn', a.rrn, 'authCode', a.auth_code, 'points', a.points,
                                                 'amountFen', a.amount_fen, 'balancePoints', a.balance_after))
$function$;
