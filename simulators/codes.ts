// Response code meanings, as a receipt prints them (protocol/README.md lists the codes the switch answers).
export const responseCodeMeanings: Record<string, string> = {
  '00': 'approved',
  '03': 'invalid merchant',
  '05': 'do not honour',
  '12': 'invalid transaction',
  '13': 'invalid amount',
  '14': 'invalid card number',
  '22': 'suspected malfunction',
  '25': 'original not found',
  '30': 'format error',
  '33': 'expired card',
  '40': 'function not supported',
  '41': 'lost card',
  '51': 'insufficient points',
  '54': 'expired card',
  '55': 'incorrect PIN',
  '58': 'not permitted (card not enrolled, or not at this terminal)',
  '61': 'over amount limit',
  '62': 'restricted card (frozen or closed)',
  '64': 'original amount wrong',
  '65': 'over frequency limit',
  '75': 'PIN tries exceeded',
  '94': 'duplicate transmission',
  '96': 'system malfunction',
  '97': 'terminal not registered / not signed on',
  A0: 'MAC check failed',
};

export function meaning(code: string | null | undefined): string {
  if (!code) return 'no answer';
  return responseCodeMeanings[code] ?? 'unknown response code';
}

/**
 * What a tester can do about an answer the switch gives for the terminal's own set-up rather than the card's:
 * 03 means the merchant number the terminal sent (42) is not the one the switch holds for it (or that merchant is
 * not active), which the tester cannot see unless told.
 */
export function setUpHint(code: string | null, terminalId: string, merchantId: string): string | undefined {
  if (code === '03') {
    return `merchant ${merchantId} does not match terminal ${terminalId}'s merchant at the switch (or is not active): `
      + `give the terminal's own merchant number with --merchant <id>, or describe the terminal once with `
      + `\`pointswitch-sim profile add <name> --terminal ${terminalId} --merchant <id> --tmk <hex>\` and use --profile <name>`;
  }
  return undefined;
}
