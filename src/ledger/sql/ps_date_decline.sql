-- 'period-closed' when a purchase is dated into a closed clearing period (on or before
-- clearing_watermark.closed_through), else NULL: a closed period's results never change. Inlined into the purchase
-- paths (ps_purchase, ps_purchase_set) beside ps_card_decline.
CREATE OR REPLACE FUNCTION ps_date_decline(p_date date)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$ SELECT CASE WHEN p_date <= (SELECT closed_through FROM clearing_watermark) THEN 'period-closed' END $function$;
