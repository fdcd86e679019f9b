// The switch's clock is China Standard Time (UTC+8, no daylight saving), so the date of receipt is computed
// by offset instead of Intl on every message.
const offsetMs = 8 * 3600_000;

// Every field the switch takes from the clock has whole seconds, so the string is made once a second.
let cachedSecond = -1;
let cachedIso = '';

function shanghai(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedIso = new Date(now + offsetMs).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ in +08:00 wall time
    cachedSecond = second;
  }
  return cachedIso;
}

/** YYYY-MM-DD: the business date of a request received at `now`. */
export function businessDate(now = Date.now()): string {
  return shanghai(now).slice(0, 10);
}

export function localTimeHHMMSS(now = Date.now()): string {
  const iso = shanghai(now);
  return iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19);
}

export function localDateMMDD(now = Date.now()): string {
  const iso = shanghai(now);
  return iso.slice(5, 7) + iso.slice(8, 10);
}
