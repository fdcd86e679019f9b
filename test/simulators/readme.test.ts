// simulators/README.md's block for a tester's own merchant, terminal and card, run as written against a running
// switch: an operator key from the CLI, the three records through the admin API, a profile, and a purchase on it.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { pasted, startSwitch, stateDir } from './support.js';

t.test('"Your own merchant, terminal and card" in simulators/README.md runs as written', async (t) => {
  const { port, databaseUrl, adminUrl } = await startSwitch(t);
  const readme = readFileSync('simulators/README.md', 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.split('## Your own merchant, terminal and card')[1] ?? '')?.[1];
  if (!block) throw new Error('no sh block under "Your own merchant, terminal and card"');
  t.ok(block.split('\n').filter((l) => l.trim() !== '').length <= 10, 'a short block');
  const r = await pasted(t, block, { ADMIN: adminUrl, DATABASE_URL: databaseUrl, POS_PORT: String(port), POINTSWITCH_SIM_STATE_DIR: stateDir(t) });
  t.equal(r.code, 0, r.stderr + r.stdout);
  const receipt = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n{') + 1));
  t.same([receipt.terminalId, receipt.merchantId, receipt.responseCode, receipt.pointsDebited, receipt.balancePoints],
    ['NOOD0001', '898310048167777', '00', 400, 4600], 'what the README says the receipt shows');
});
