// A switch-like process for the kill test: debits as fast as it can and prints each approval after it returns
// (i.e. after its commit). The test kills it with SIGKILL at an arbitrary moment.
import { Ledger } from '../../src/ledger/index.js';

const ledger = await Ledger.open({
  databaseUrl: process.env.CHILD_DATABASE_URL as string,
  redisUrl: process.env.CHILD_REDIS_URL ?? null,
  redisPrefix: process.env.CHILD_REDIS_PREFIX ?? '',
});
const cards = ['8860000000000007', '8860000000000002'];
let trace = 0;
await Promise.all(Array.from({ length: 32 }, async () => {
  for (;;) {
    const n = ++trace;
    const key = { terminalId: '10000001', batchNo: '000777', trace: String(n).padStart(6, '0'), businessDate: '2026-11-22' };
    const r = await ledger.purchase({ key, merchantId: '898310048160001', cardNo: cards[n % 2] as string, amountFen: 100 + (n % 50) });
    if (r.ok) process.stdout.write(`APPROVED ${key.trace} ${r.rrn} ${r.points}\n`);
  }
}));
