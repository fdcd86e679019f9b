-- The ISO response code of an answer: 00 for ok, else its decline kind's code from response_codes (96 for a kind
-- the table does not know). Called by ps_void and ps_refund.
CREATE OR REPLACE FUNCTION ps_code(p_resp jsonb)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
  SELECT CASE WHEN (p_resp->>'ok')::boolean THEN '00'
              ELSE coalesce((SELECT code FROM response_codes WHERE kind = p_resp->'decline'->>'kind'), '96') END
$function$;
