// A clearing period is a calendar month of business dates ('2026-11'). It has ended once its last day is over in
// the clearing time zone plus the grace days for late reversals; only then may it be closed, and a run before then
// is provisional.

export interface Period {
  /** YYYY-MM */
  period: string;
  /** first business date, YYYY-MM-DD */
  first: string;
  /** last business date, YYYY-MM-DD */
  last: string;
  days: number;
}

export class PeriodError extends Error {
  constructor(message: string, readonly kind: 'bad-period' | 'not-started' | 'not-ended' | 'closed' | 'order' | 'busy' | 'mismatch') {
    super(message);
    this.name = 'PeriodError';
  }
}

const pad = (n: number) => String(n).padStart(2, '0');

export function parsePeriod(text: string): Period {
  const m = /^(\d{4})-(\d{2})$/.exec(text.trim());
  const year = m ? Number(m[1]) : NaN;
  const month = m ? Number(m[2]) : NaN;
  if (!m || month < 1 || month > 12 || year < 2000 || year > 2999) {
    throw new PeriodError(`a period is a month written YYYY-MM, such as 2026-11 (got "${text}")`, 'bad-period');
  }
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return { period: `${m[1]}-${m[2]}`, first: `${m[1]}-${m[2]}-01`, last: `${m[1]}-${m[2]}-${pad(days)}`, days };
}

/** The period before `p`. */
export function previousPeriod(p: Period): Period {
  const [y, m] = p.period.split('-').map(Number) as [number, number];
  return parsePeriod(m === 1 ? `${y - 1}-12` : `${y}-${pad(m - 1)}`);
}

/** The date (YYYY-MM-DD) it is at `now` in `timeZone`. */
export function dateIn(timeZone: string, now: Date): string {
  // en-CA formats as YYYY-MM-DD
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

/** `date` (YYYY-MM-DD) moved by `n` days. */
export function addDays(date: string, n: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/**
 * Where `p` stands at `now`: 'future' before its first day, 'running' during it, 'grace' after its last day until
 * the grace days are over, 'ended' from then on (the first moment of the day after last + grace).
 */
export function periodPhase(p: Period, now: Date, timeZone: string, graceDays: number): 'future' | 'running' | 'grace' | 'ended' {
  const today = dateIn(timeZone, now);
  if (today < p.first) return 'future';
  if (today <= p.last) return 'running';
  if (today <= addDays(p.last, graceDays)) return 'grace';
  return 'ended';
}

/** The first date on which `p` may be closed. */
export function closableFrom(p: Period, graceDays: number): string {
  return addDays(p.last, graceDays + 1);
}

/** Why `p` may not be run at `now` (it has not started), or null. */
export function notStarted(p: Period, now: Date, timeZone: string, graceDays: number): PeriodError | null {
  return periodPhase(p, now, timeZone, graceDays) === 'future'
    ? new PeriodError(`${p.period} has not started yet (today is before ${p.first} in ${timeZone})`, 'not-started') : null;
}

/** Why `p` may not be closed at `now` (it has not ended, grace days included), or null. */
export function notEnded(p: Period, now: Date, timeZone: string, graceDays: number): PeriodError | null {
  return periodPhase(p, now, timeZone, graceDays) === 'ended' ? null
    : new PeriodError(`${p.period} has not ended: it may be closed from ${closableFrom(p, graceDays)} (${timeZone}), `
      + `after ${graceDays} grace day${graceDays === 1 ? '' : 's'} for late reversals`, 'not-ended');
}
