// Redis is an accelerator, never a requirement: the switch serves on Postgres alone, and says so.
import t from 'tap';
import { parseSettlementTotals } from '../../protocol/index.js';
import { testEnv } from '../support/db.js';
import { balanceOf, seed, startSwitch } from './support/app.js';
import { TestTerminal } from './support/terminal.js';

const diamond = '8860000000000007';

t.test('without Redis the switch signs on, debits once per retransmission and warns in the log', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env, { noRedis: true, settlementUnbalancedCode: '95' });
  t.match(app.redis, /none/);
  t.ok(app.logLines.some((l) => /Postgres alone/.test(l) && /"level":40/.test(l)), 'a warning names the mode');
  const term = await TestTerminal.connect({ port: app.posPort });
  t.teardown(() => term.close());
  t.equal((await term.signOn()).fields[39], '00');
  const before = await balanceOf(app, diamond);
  const p = term.purchaseMessage(diamond, 1000);
  const first = await term.send(p);
  const again = await term.send(p);
  t.equal(first.fields[39], '00');
  t.equal(again.fields[37], first.fields[37]);
  t.equal(await balanceOf(app, diamond), before - 500);

  await t.test('with settlementUnbalancedCode 95 an unbalanced batch is answered 95', async (t) => {
    const wrong = await term.send(term.settlementMessage({ debitFen: 1, debitCount: 1, creditFen: 0, creditCount: 0 }));
    t.equal(wrong.fields[39], '95');
    t.equal(parseSettlementTotals(wrong.fields[48] as string).settlementCode, '2');
  });
  const health = await app.admin.inject({ method: 'GET', url: '/health' });
  t.equal(health.json().redis, 'none (--no-redis)');
});
