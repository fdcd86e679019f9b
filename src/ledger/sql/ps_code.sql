-- The ISO response code of an answer: 00 for ok, else its decline kind's code (ps_kind_code). Called by
-- ps_store_return and ps_purchase.
CREATE OR REPLACE FUNCTION ps_code(p_resp jsonb)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
  SELECT CASE WHEN (p_resp->>'ok')::boolean THEN '00' ELSE ps_kind_code(p_resp->'decline'->>'kind') END
$function$;
