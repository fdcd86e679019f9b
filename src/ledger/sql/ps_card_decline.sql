-- The card checks every debit shares: the kind of the first reason the card cannot pay, or NULL. c is the card's
-- row, NULL (or all NULL) when there is no such card. cardDecline (src/ledger/card-rules.ts) is its TypeScript
-- twin for answers served from the cache; test/ledger/sql-parity.test.ts holds them equal.
-- STABLE SQL (to_char of a date): inlined by the planner into the batch debit's statement and ps_purchase.
CREATE OR REPLACE FUNCTION ps_card_decline(c cards, p_date date, p_pvv text)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
  SELECT CASE
    WHEN c.card_no IS NULL THEN 'unknown-card'
    WHEN c.status = 'lost' THEN 'card-lost'
    WHEN c.status = 'frozen' THEN 'card-frozen'
    WHEN c.status = 'closed' THEN 'card-closed'
    WHEN c.status = 'expired' OR c.expiry < to_char(p_date, 'YYMM') THEN 'card-expired'
    WHEN NOT c.enrolled THEN 'not-enrolled'
    WHEN c.pin_verification IS NOT NULL AND (p_pvv IS NULL OR p_pvv <> c.pin_verification) THEN 'incorrect-pin'
  END
$function$;
