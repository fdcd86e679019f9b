-- The merchant side's per-card bucket (0-63): a merchant's points are appended to 64 sub-accounts, never one hot
-- row, and netted at clearing. The one place the formula lives. Called by ps_post, ps_purchase and the batch debits.
CREATE OR REPLACE FUNCTION ps_bucket(p_card text)
 RETURNS smallint
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT (abs(hashtext(p_card)) % 64)::smallint $function$;
