CREATE OR REPLACE FUNCTION ps_card_decline(c cards, p_found boolean, p_date date, p_pvv text)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
  SELECT CASE
    WHEN NOT p_found THEN ps_decline('unknown-card')
    WHEN c.status = 'lost' THEN ps_decline('card-lost')
    WHEN c.status = 'frozen' THEN ps_decline('card-frozen')
    WHEN c.status = 'closed' THEN ps_decline('card-closed')
    WHEN c.status = 'expired' OR c.expiry < to_char(p_date, 'YYMM') THEN ps_decline('card-expired')
    WHEN NOT c.enrolled THEN ps_decline('not-enrolled')
    WHEN c.pin_verification IS NOT NULL AND (p_pvv IS NULL OR p_pvv <> c.pin_verification) THEN ps_decline('incorrect-pin')
  END
$function$;
