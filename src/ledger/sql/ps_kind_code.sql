-- The ISO response code of a decline kind, from response_codes (written at start from the one mapping in
-- src/ledger/decline.ts); 96 for a kind the table does not know. Called by ps_code and ps_purchase_set.
CREATE OR REPLACE FUNCTION ps_kind_code(p_kind text)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
  SELECT coalesce((SELECT code FROM response_codes WHERE kind = p_kind), '96')
$function$;
