-- The 6-digit authorisation code of an authorisation id (field 38). Called by the debit functions.
CREATE OR REPLACE FUNCTION ps_auth_code(p_id bigint)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT lpad(((p_id * 7919) % 1000000)::text, 6, '0') $function$;
