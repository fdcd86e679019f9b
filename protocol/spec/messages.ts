// The UnionPay POS profile's requests: every MTI a terminal sends and a host answers (responseMti gives the
// answer's MTI). 0920 (e-signature upload) travels on the same link, though this switch has no handler for it.
export const unionPayPosRequests: Readonly<Record<string, string>> = {
  '0800': 'sign-on, echo test',
  '0820': 'sign-off',
  '0200': 'balance inquiry, purchase, void',
  '0220': 'refund',
  '0400': 'reversal',
  '0500': 'batch settlement',
  '0320': 'batch upload',
  '0920': 'e-signature upload',
};
