-- The points a purchase of amount_fen costs at a merchant's points_per_yuan: ceil(amount_fen × rate / 100), any part
-- of a point rounds up to a whole point (the member pays the fraction). The one rounding rule in SQL; pointsFor
-- (src/ledger/points.ts) is its TypeScript twin, test/ledger/sql-parity.test.ts holds them equal.
-- IMMUTABLE SQL: the planner inlines it, so the batch debit's set-based statement pays no call per row.
CREATE OR REPLACE FUNCTION ps_points(p_amount_fen bigint, p_points_per_yuan integer)
 RETURNS bigint
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT (p_amount_fen * p_points_per_yuan + 99) / 100 $function$;
