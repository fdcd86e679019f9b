// Masking helpers: no caller should ever need to log a full card number, track, PIN block or key.

/** First 6 and last 4 digits kept, the rest '*' (PANs shorter than 13: last 4 only; 4 or fewer: all '*'). */
export function maskPan(pan: string): string {
  const len = pan.length;
  if (len <= 4) return '*'.repeat(len);
  if (len < 13) return '*'.repeat(len - 4) + pan.slice(-4);
  return pan.slice(0, 6) + '*'.repeat(len - 10) + pan.slice(-4);
}

/** A text with every run of 12 to 19 digits (what could be a card number) masked as a PAN. */
export function maskPansIn(text: string): string {
  return text.replace(/\d{12,19}/g, (pan) => maskPan(pan));
}

/** Track data: the PAN masked, everything after the separator starred. */
export function maskTrack(track: string): string {
  // Only a clear track has a PAN then a separator; an encrypted one (nibbles A-F) is masked whole.
  const m = /^[0-9]{12,19}[D=]/.exec(track);
  if (!m) return '*'.repeat(track.length);
  const sep = m[0].length - 1;
  return maskPan(track.slice(0, sep)) + track[sep] + '*'.repeat(track.length - sep - 1);
}

/** Secret bytes (PIN block, keys, MAC, IC data): only the length is shown. */
export function maskBytes(b: Buffer | string): string {
  return `<${b.length} ${typeof b === 'string' ? 'chars' : 'bytes'} masked>`;
}

/** PAN from a z-string track 2 (the digits before 'D' or '='), or null if there is none. */
export function track2Pan(track2: string): string | null {
  const m = /^([0-9]{12,19})[D=]/.exec(track2);
  return m ? m[1]! : null;
}
