-- The business date a void, refund or reversal is cleared under: its own date, or, when that lies in a closed
-- clearing period (on or before clearing_watermark.closed_through), the first open date. A late void or refund of
-- a closed month's purchase is thus netted in the merchant's current month. Called by ps_void, ps_refund and
-- ps_reverse, once each, before they store anything.
CREATE OR REPLACE FUNCTION ps_open_date(p_date date)
 RETURNS date
 LANGUAGE sql
 STABLE
AS $function$ SELECT greatest(p_date, (SELECT closed_through + 1 FROM clearing_watermark)) $function$;
