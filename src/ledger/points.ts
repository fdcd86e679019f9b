// The rounding rules, each written once. Spending: points = ceil(amountFen × pointsPerYuan / 100), i.e. any part of a point
// rounds UP to a whole point (the member pays the fraction). 50 points/yuan: 1 fen = 0.5 point -> 1 point,
// 3 fen = 1.5 -> 2 points, 100 fen = 50 points.
// SQL has the same rule once, ps_points (src/ledger/sql/ps_points.sql); test/ledger/sql-parity.test.ts holds the two equal.
export const pointValueFen = 2;

export function pointsFor(amountFen: number, pointsPerYuan: number): number {
  if (!Number.isSafeInteger(amountFen) || amountFen < 0) throw new RangeError('amountFen must be a non-negative integer');
  if (!Number.isSafeInteger(pointsPerYuan) || pointsPerYuan <= 0) throw new RangeError('pointsPerYuan must be a positive integer');
  return Math.floor((amountFen * pointsPerYuan + 99) / 100);
}

/**
 * Earning (the accrual feed): points earned on a billed amount at `pointsPerYuan` points a yuan, rounded DOWN to a
 * whole point (the member earns no fraction): floor(amountFen × pointsPerYuan / 100). At the default 1 point a
 * yuan, 1,999 fen earns 19 points and 99 fen none.
 */
export function earnedPoints(amountFen: number, pointsPerYuan: number): number {
  if (!Number.isSafeInteger(amountFen) || amountFen < 0) throw new RangeError('amountFen must be a non-negative integer');
  if (!Number.isSafeInteger(pointsPerYuan) || pointsPerYuan <= 0) throw new RangeError('pointsPerYuan must be a positive integer');
  return Math.floor((amountFen * pointsPerYuan) / 100);
}
