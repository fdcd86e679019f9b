CREATE OR REPLACE FUNCTION ps_bucket(p_card text)
 RETURNS smallint
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT (abs(hashtext(p_card)) % 64)::smallint $function$;
