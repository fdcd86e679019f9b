-- A decline answer: {ok: false, decline: {kind, ...extra}}. Called by the debit functions.
CREATE OR REPLACE FUNCTION ps_decline(p_kind text, p_extra jsonb DEFAULT '{}'::jsonb)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$ SELECT jsonb_build_object('ok', false, 'decline', jsonb_build_object('kind', p_kind) || p_extra) $function$;
