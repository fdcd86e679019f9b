-- The 12-digit RRN of an authorisation id (field 37): the id itself, so RRNs are unique while ids stay below 10^12
-- (a CHECK on authorisations). Called by the debit functions.
CREATE OR REPLACE FUNCTION ps_rrn(p_id bigint)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT lpad((p_id % 1000000000000)::text, 12, '0') $function$;
