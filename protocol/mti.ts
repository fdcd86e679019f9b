// The message type indicator's rule both sides need: which MTI answers a request. ISO 8583's third digit is the
// message function: a request (0), advice (2), notification (4) … is answered by the next, odd, function, with
// the version, class and origin digits kept (0200 -> 0210, 0220 -> 0230, 0820 -> 0830).

/** Whether `mti` is four digits with an even message function: a message that expects an answer. */
export function isRequestMti(mti: string): boolean {
  return /^\d\d[02468]\d$/.test(mti);
}

/** The MTI that answers `requestMti`; throws a RangeError for a string that is not a request MTI. */
export function responseMti(requestMti: string): string {
  if (!isRequestMti(requestMti)) throw new RangeError(`${JSON.stringify(requestMti)} is not a request MTI (four digits, the third even)`);
  return `${requestMti.slice(0, 2)}${Number(requestMti[2]) + 1}${requestMti[3]}`;
}
