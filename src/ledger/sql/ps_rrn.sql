CREATE OR REPLACE FUNCTION ps_rrn(p_id bigint)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT lpad((p_id % 1000000000000)::text, 12, '0') $function$;
