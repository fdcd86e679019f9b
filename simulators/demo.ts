// The names `pointswitch seed --demo` creates. The simulator uses them as defaults so `npm start` in one terminal
// and `pointswitch-sim shell` in another work with no other set-up. Merchants' rates are not here: the points a
// transaction moves are the switch's to say (the simulator reads them from the balances it answers).

export const demoTmkHex = '0123456789ABCDEFFEDCBA9876543210';
export const demoMacAlgorithm = 'ecb' as const;
export const demoAcquirerId = '48160000';
export const demoHost = '127.0.0.1';
export const demoPosPort = 8583;

export const demoTerminals: Record<string, string> = {
  '10000001': '898310048160001',
  '10000002': '898310048160001',
  '20000001': '898310048160002',
};
export const demoTerminalId = '10000001';
export const demoMerchantId = '898310048160001';

export interface DemoCard { cardNo: string; label: string; points: number; expiry: string; pin?: string }
export const demoCards: DemoCard[] = [
  { cardNo: '8860000000000001', label: 'gold, PIN 123456', points: 100000, expiry: '3012', pin: '123456' },
  { cardNo: '8860000000000002', label: 'silver, no PIN', points: 500, expiry: '3012' },
  { cardNo: '8860000000000003', label: 'lost', points: 10000, expiry: '3012' },
  { cardNo: '8860000000000004', label: 'frozen', points: 10000, expiry: '3012' },
  { cardNo: '8860000000000005', label: 'expired', points: 10000, expiry: '2001' },
  { cardNo: '8860000000000006', label: 'not enrolled', points: 0, expiry: '3012' },
  { cardNo: '8860000000000007', label: 'diamond, no PIN', points: 1000000, expiry: '3012' },
];

export const cardExpiryDefault = '3012';
/** The diamond card: a balance inquiry's default card, and the card of a forced void nobody named. */
export const demoCardNo = '8860000000000007';

/** The card's expiry as the demo seed wrote it, else the default (a card the simulator does not know). */
export function demoExpiry(cardNo: string): string {
  return demoCards.find((c) => c.cardNo === cardNo)?.expiry ?? cardExpiryDefault;
}

export function demoPin(cardNo: string): string | undefined {
  return demoCards.find((c) => c.cardNo === cardNo)?.pin;
}

/** The merchant a terminal belongs to in the demo seed (load terminals `9…` belong to merchant 1). */
export function demoMerchantFor(terminalId: string): string {
  return seededMerchantOf(terminalId) ?? demoMerchantId;
}

/** The merchant of a terminal the demo seed makes (its terminals and the load terminals), else undefined. */
export function seededMerchantOf(terminalId: string): string | undefined {
  return demoTerminals[terminalId] ?? (/^9\d{7}$/.test(terminalId) ? demoMerchantId : undefined);
}

/** Load terminals: `9` + 7-digit index from 1. */
export function loadTerminalId(index1: number): string {
  return `9${String(index1).padStart(7, '0')}`;
}

/** Load cards: `8861` + 12-digit index from 1. */
export function loadCardNo(index1: number): string {
  return `8861${String(index1).padStart(12, '0')}`;
}

/** What a tester typed as a card number, checked before anything is sent. */
export function cardNumber(v: string | undefined): string {
  const s = (v ?? '').trim();
  if (!/^\d{12,19}$/.test(s)) throw new Error(`not a card number: ${JSON.stringify(s)} (a card number is 12–19 digits, e.g. 8860000000000007)`);
  return s;
}

/** "12.5" / "12.50" / "12" yuan → fen, exactly (no float arithmetic). */
export function yuanToFen(yuan: string | number): number {
  const s = String(yuan).trim();
  const m = /^(\d{1,10})(?:\.(\d{1,2}))?$/.exec(s);
  if (!m) throw new Error(`not an amount in yuan: ${JSON.stringify(s)} (e.g. 12 or 12.50)`);
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

export function fenToYuan(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}
