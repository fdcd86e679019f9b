CREATE OR REPLACE FUNCTION ps_answer(a authorisations)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
  SELECT coalesce(a.response, jsonb_build_object('ok', true, 'rrn', a.rrn, 'authCode', a.auth_code, 'points', a.points,
                                                 'amountFen', a.amount_fen, 'balancePoints', a.balance_after))
$function$;
