-- The authorisation id an RRN is made of (ps_rrn's inverse), or NULL: a refund finds its original through the
-- primary key. Called by ps_refund.
CREATE OR REPLACE FUNCTION ps_rrn_auth_id(p_rrn text)
 RETURNS bigint
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT CASE WHEN p_rrn ~ '^[0-9]{12}$' THEN p_rrn::bigint END $function$;
