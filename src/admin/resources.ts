// The admin API's resource plugins, each under its own prefix, all through the ledger's database.
import type { FastifyPluginAsync } from 'fastify';
import type { Kek, Ledger } from '../ledger/index.js';
import { accrualsPlugin } from './accruals.js';
import { cardsPlugin } from './cards.js';
import { clearingPlugin } from './clearing.js';
import { merchantsPlugin } from './merchants.js';
import { terminalsPlugin } from './terminals.js';
import { transactionsPlugin } from './transactions.js';

export function adminResources(ledger: Ledger, kek: Kek, o: {
  accrualPointsPerYuan: number; clearingTimeZone: string; clearingGraceDays: number; terminalMonthlyFeeFen: number;
}): Array<{ prefix: string; plugin: FastifyPluginAsync }> {
  const pool = ledger.pool;
  return [
    { prefix: '/accruals', plugin: async (app) => { await app.register(accrualsPlugin, { book: ledger.accruals, rule: { pointsPerYuan: o.accrualPointsPerYuan }, pool }); } },
    { prefix: '/merchants', plugin: async (app) => { await app.register(merchantsPlugin, { pool, forget: (id: string) => ledger.forgetMerchant(id) }); } },
    { prefix: '/terminals', plugin: async (app) => { await app.register(terminalsPlugin, { pool, kek, forget: (id: string) => ledger.forgetTerminal(id) }); } },
    { prefix: '/transactions', plugin: async (app) => { await app.register(transactionsPlugin, { pool }); } },
    {
      prefix: '/clearing',
      plugin: async (app) => {
        await app.register(clearingPlugin, { pool, params: { timeZone: o.clearingTimeZone, graceDays: o.clearingGraceDays, terminalFeeFen: o.terminalMonthlyFeeFen } });
      },
    },
    { prefix: '/cards', plugin: async (app) => { await app.register(cardsPlugin, { ledger, kek }); } },
  ];
}
