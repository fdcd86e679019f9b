CREATE OR REPLACE FUNCTION ps_code(p_resp jsonb)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
  SELECT CASE WHEN (p_resp->>'ok')::boolean THEN '00'
              ELSE coalesce((SELECT code FROM response_codes WHERE kind = p_resp->'decline'->>'kind'), '96') END
$function$;
