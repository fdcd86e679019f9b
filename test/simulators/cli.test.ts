// pointswitch-sim as a tester uses it, against a real switch (real TCP, Postgres, Redis): swipe --json, the
// shell driven through stdin, scenario files (passing and failing), and a short load run that reconciles.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { sim, startSwitch, stateDir } from './support.js';

const diamond = '8860000000000007';

t.test('swipe --json prints one JSON result with the response code, points, balance, RRN and trace', async (t) => {
  const { port } = await startSwitch(t);
  const r = await sim(['swipe', '--port', String(port), '--state-dir', stateDir(t), '--type', 'purchase', '--card', diamond, '--amount', '12.34', '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.equal(j.kind, 'purchase');
  t.equal(j.responseCode, '00');
  t.equal(j.meaning, 'approved');
  t.equal(j.pointsDebited, 617, '1234 fen at 50 points a yuan is 617 points (rounded up)');
  t.equal(j.balancePoints, 1_000_000 - 617);
  t.match(j.rrn, /^\S{12}$/);
  t.match(j.trace, /^\d{6}$/);
  t.equal(j.card, '886000******0007', 'the card number is masked');
  const b = await sim(['swipe', '--port', String(port), '--no-state', '--type', 'balance', '--card', '8860000000000003', '--json']);
  t.equal(JSON.parse(b.stdout).responseCode, '41', 'a lost card is declined 41');
});

t.test('two swipes of a terminal kept in memory only (--no-state) do not reuse a trace, so neither is a duplicate', async (t) => {
  const { port } = await startSwitch(t);
  const swipe = () => sim(['swipe', '--port', String(port), '--no-state', '--type', 'purchase', '--card', diamond, '--amount', '1.00', '--json']);
  const first = JSON.parse((await swipe()).stdout);
  const second = JSON.parse((await swipe()).stdout);
  t.equal(first.responseCode, '00');
  t.equal(second.responseCode, '00', 'the second is approved, not declined 94');
  t.not(first.trace, second.trace);
});

t.test('the shell signs on, takes commands from stdin and prints a receipt for each', async (t) => {
  const { port } = await startSwitch(t);
  const dir = stateDir(t);
  const r = await sim(['shell', '--port', String(port), '--state-dir', dir], {
    stdin: `balance ${diamond}\nbuy ${diamond} 2\nvoid 3\nbuy 8860000000000002 100\nstatus\nbatch-close\nsignoff\nquit\n`,
  });
  t.equal(r.code, 0, r.stderr + r.stdout);
  t.match(r.stdout, /SIGN-ON APPROVED/);
  t.match(r.stdout, /BALANCE INQUIRY APPROVED[\s\S]*balance left\s+1000000 points/);
  t.match(r.stdout, /PURCHASE APPROVED[\s\S]*points debited\s+100[\s\S]*balance left\s+999900 points[\s\S]*RRN\s+\S{12}[\s\S]*trace\s+000003/);
  t.match(r.stdout, /VOID APPROVED[\s\S]*balance left\s+1000000 points/);
  t.match(r.stdout, /PURCHASE DECLINED[\s\S]*response\s+51 insufficient points/);
  t.match(r.stdout, /BATCH CLOSE APPROVED[\s\S]*totals\s+balanced/);
  t.match(r.stdout, /SIGN-OFF APPROVED/);
  // A second shell on the same state resumes the trace counter.
  const again = await sim(['shell', '--port', String(port), '--state-dir', dir], { stdin: 'status\nquit\n' });
  t.match(again.stdout, /last trace 0000(0[89]|1\d)/, 'the trace counter continued from the saved state');
});

t.test('every example scenario passes against a freshly seeded switch, and runs again on the same data', async (t) => {
  const { port } = await startSwitch(t);
  const dir = path.resolve('simulators/scenarios');
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).map((f) => path.join(dir, f));
  t.ok(files.length >= 6);
  const state = stateDir(t);
  for (const round of [1, 2]) {
    const r = await sim(['scenario', '--port', String(port), '--state-dir', state, ...files]);
    t.equal(r.code, 0, `round ${round}:\n${r.stdout}${r.stderr}`);
    t.notMatch(r.stdout, /✗/, `round ${round}: no step failed`);
  }
});

t.test('a scenario with a failing expectation prints ✗ and exits non-zero', async (t) => {
  const { port } = await startSwitch(t);
  const r = await sim(['scenario', '--port', String(port), '--no-state', 'test/simulators/fixtures/failing.yaml']);
  t.equal(r.code, 1);
  t.match(r.stdout, /✗\s+2 purchase 8860000000000003[\s\S]*expected response code 00, got 41/);
  t.match(r.stdout, /1 passed, 1 failed/);
});

t.test('a scenario file that is not valid is refused with the step that is wrong', async (t) => {
  const r = await sim(['scenario', '--port', '1', 'test/simulators/fixtures/invalid.yaml']);
  t.equal(r.code, 2);
  t.match(r.stderr, /steps/);
});

t.test('a short load run answers every request and the points debited match the approvals seen', async (t) => {
  const { port } = await startSwitch(t, { loadTerminals: 4, loadCards: 50 });
  const state = stateDir(t);
  const r = await sim(['load', '--port', String(port), '--state-dir', state, '--terminals', '4', '--cards', '50', '--rate', 'max', '--duration', '2', '--mix', 'purchase=70,balance=20,void=10', '--json', '-']);
  t.equal(r.code, 0, r.stderr + r.stdout);
  const j = JSON.parse(r.stdout);
  t.equal(j.allAnswered, true);
  t.equal(j.answered, j.sent);
  t.ok(j.byType.purchase.approved > 0 && j.byType.void.approved > 0 && j.byType.balance.approved > 0, 'every kind in the mix ran');
  t.equal(j.reconciliation.checked, true);
  t.equal(j.reconciliation.balanceAfter, j.reconciliation.balanceBefore - j.reconciliation.pointsDebitedSeen + j.reconciliation.pointsCreditedSeen);
  t.equal(j.reconciliation.ok, true);
  t.ok(j.latency.p50Ms <= j.latency.p99Ms && j.latency.p99Ms <= j.latency.maxMs);
  t.same(Object.keys(j.responseCodes), ['00'], 'every request approved');
  const fixed = await sim(['load', '--port', String(port), '--state-dir', state, '--first-terminal', '3', '--terminals', '2', '--connections', '2', '--cards', '50', '--rate', '200', '--duration', '1', '--json', '-']);
  t.equal(fixed.code, 0, fixed.stderr + fixed.stdout);
  const f = JSON.parse(fixed.stdout);
  t.equal(f.connections, 4, 'two connections per terminal');
  t.equal(f.reconciliation.ok, true, 'at a fixed rate too');
  t.same(Object.keys(f.responseCodes), ['00'], 'the same terminals again: their traces continue from the state files, no 94');
});

t.test('load with retransmissions in the mix: each is answered with its original approval and debits nothing', async (t) => {
  const { port, databaseUrl, adminUrl, adminKey } = await startSwitch(t, { loadTerminals: 4, loadCards: 20 });
  const r = await sim(['load', '--port', String(port), '--state-dir', stateDir(t), '--terminals', '4', '--cards', '20', '--rate', 'max', '--duration', '2',
    '--mix', 'purchase=60,void=5,resend=35', '--admin-url', adminUrl, '--admin-key', adminKey, '--json', '-']);
  t.equal(r.code, 0, r.stderr + r.stdout);
  const j = JSON.parse(r.stdout);
  t.same(j.mix, { purchase: 60, balance: 0, void: 5, resend: 35 });
  t.ok(j.byType.resend.sent > 100, `${j.byType.resend.sent} retransmissions sent`);
  t.equal(j.byType.resend.approved, j.byType.resend.answered, 'every retransmission answered 00');
  t.equal(j.resendMismatches, 0, 'each with its original RRN');
  t.equal(j.reconciliation.ok, true, 'and the balances moved by the approvals seen alone: no retransmission debited');
  t.equal(j.ok, true);
  // The ledger saw them: one authorisation per purchase key, none for a retransmission.
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  t.teardown(() => c.end());
  const n = (await c.query(`SELECT count(*)::int AS n FROM authorisations WHERE kind = 'purchase' AND terminal_id LIKE '9000000%'`)).rows[0].n;
  t.equal(n, j.byType.purchase.sent, 'one stored purchase per purchase sent, none more');
});

t.test('load --local-address spreads the terminals over client addresses, each terminal on one connection (its sign-on\'s)', async (t) => {
  const { port } = await startSwitch(t, { loadTerminals: 4, loadCards: 20, config: { connectionsPerAddressMax: 2 } });
  const args = (addresses: string) => ['load', '--port', String(port), '--state-dir', stateDir(t), '--terminals', '4', '--cards', '20',
    '--rate', 'max', '--duration', '1', '--local-address', addresses, '--json', '-'];
  const r = await sim(args('127.0.0.2, 127.0.0.3'));
  t.equal(r.code, 0, r.stderr + r.stdout);
  const j = JSON.parse(r.stdout);
  t.equal(j.connections, 4, 'four terminals, four connections: two from each address, within the switch\'s cap of two');
  t.same(Object.keys(j.responseCodes), ['00']);
  t.equal(j.reconciliation.ok, true);
  const oneStarted = Date.now();
  const one = await sim(args('127.0.0.4'));
  t.not(one.code, 0, 'from one address the switch refuses the third terminal\'s connection');
  t.ok(Date.now() - oneStarted < 20_000, 'and the command ends at once: the other terminals\' connections are closed, not left to the idle timeout');
  t.match(one.stderr, /connectionsPerAddressMax\? spread the terminals over local addresses \(--local-address\)/, 'and the error says what to do');
  const bad = await sim(args('127.0.0.2,nope'));
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--local-address: "nope" is not an IP address/);
});

t.test('flood: a bad client as the switch\'s limits see it', async (t) => {
  const { port } = await startSwitch(t, { loadTerminals: 2, loadCards: 1, config: { refusalsPerAddressPerSecondMax: 20, refusalsPerSecondMax: 40 } });
  const strangers = await sim(['flood', '--port', String(port), '--kind', 'strangers', '--connections', '4', '--pipeline', '8', '--seconds', '2', '--local-address', '127.0.0.2', '--json']);
  t.equal(strangers.code, 0, strangers.stderr);
  const s = JSON.parse(strangers.stdout);
  t.same(Object.keys(s.codes), ['97'], 'unknown terminal numbers: every purchase refused 97');
  // A burst of 32, then 20 a second for the 2 s and the drain of what was in flight: about a hundred, not thousands.
  t.ok(s.answered > 32 && s.answered < 200, `held to the address's refusal budget (${s.answered} answered)`);
  // From four addresses, each under its own budget: the switch's (40 a second, bursts of 32) holds them together.
  const scattered = await sim(['flood', '--port', String(port), '--kind', 'strangers', '--connections', '8', '--pipeline', '8', '--seconds', '3', '--local-address', '127.0.1.1,127.0.1.2,127.0.1.3,127.0.1.4', '--json']);
  t.equal(scattered.code, 0, scattered.stderr);
  const sc = JSON.parse(scattered.stdout);
  t.same(Object.keys(sc.codes), ['97']);
  // Its burst, 40 a second for 3 s, and the 64 requests still pipelined at the end drained at that rate: about 216
  // (measured 214-215). The addresses' own budgets (20 a second each, bursts of 32) would let about 430 through.
  t.ok(sc.answered > 32 && sc.answered < 260, `four addresses held to the switch's refusal budget (${sc.answered} answered)`);
  // The two load terminals signed on (a load run does that), then their numbers without their keys.
  t.equal((await sim(['load', '--port', String(port), '--state-dir', stateDir(t), '--terminals', '2', '--cards', '1', '--rate', '10', '--duration', '1', '--mix', 'purchase=0,balance=1,void=0', '--no-reconcile'])).code, 0);
  const badMac = await sim(['flood', '--port', String(port), '--kind', 'bad-mac', '--terminals', '2', '--connections', '2', '--pipeline', '4', '--seconds', '1', '--local-address', '127.0.0.3', '--json']);
  t.equal(badMac.code, 0, badMac.stderr);
  t.same(Object.keys(JSON.parse(badMac.stdout).codes), ['A0'], 'the load terminals\' numbers without their keys: A0');
  const signOns = await sim(['flood', '--port', String(port), '--kind', 'sign-on', '--terminals', '2', '--connections', '2', '--pipeline', '2', '--seconds', '1', '--local-address', '127.0.0.4', '--json']);
  t.equal(signOns.code, 0, signOns.stderr);
  t.same(Object.keys(JSON.parse(signOns.stdout).codes), ['00'], 'sign-ons for the load terminals\' numbers: 00 (a sign-on needs no MAC)');
  const cardStarted = Date.now();
  const card = await sim(['flood', '--port', String(port), '--kind', 'one-card', '--connections', '2', '--pipeline', '40', '--seconds', '1']);
  t.equal(card.code, 0, card.stderr);
  t.ok(Date.now() - cardStarted < 20_000, 'and the command ends when the flood does (no connection left open)');
  t.match(card.stdout, /flood one-card: 2 connections × 40 pipelined, 1 s/);
  t.match(card.stdout, /codes\s+.*00 \d+/, 'purchases of one card approved');
  t.match(card.stdout, /65 \d+/, 'and past the card gate (32 in flight) declined 65');
  const bad = await sim(['flood', '--port', String(port), '--kind', 'nope']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--kind/);
});

t.test('load --admin-url reconciles against the ledger\'s own balances (the admin API reads them from Postgres)', async (t) => {
  const { port, adminUrl, adminKey } = await startSwitch(t, { loadTerminals: 2, loadCards: 20 });
  const r = await sim(['load', '--port', String(port), '--state-dir', stateDir(t), '--terminals', '2', '--cards', '20', '--rate', 'max', '--duration', '1', '--admin-url', adminUrl, '--admin-key', adminKey, '--json', '-']);
  t.equal(r.code, 0, r.stderr + r.stdout);
  const j = JSON.parse(r.stdout);
  t.equal(j.reconciliation.note, 'balances read from the admin API');
  t.equal(j.reconciliation.balanceBefore, 20 * 10_000_000);
  t.equal(j.reconciliation.ok, true);
  t.ok(j.reconciliation.pointsDebitedSeen > 0);
  t.equal(j.macFailures, 0, 'every answer MAC verified');
  t.equal(j.reconciliation.approvalsOff, 0);
  t.equal(j.reconciliation.cardsOff, 0);
  // The points are read from the balances the switch answers, and each must be its purchase's amount at the rate:
  // told another rate, the check refuses them and the run fails.
  const wrong = await sim(['load', '--port', String(port), '--state-dir', stateDir(t), '--terminals', '2', '--cards', '20', '--rate', 'max', '--duration', '1', '--mix', 'purchase=1',
    '--points-per-yuan', '40', '--json', '-']);
  t.equal(wrong.code, 1, wrong.stderr);
  const w = JSON.parse(wrong.stdout);
  t.equal(w.reconciliation.ok, false);
  t.equal(w.reconciliation.approvalsOff, w.byType.purchase.approved, 'every purchase refused: 50 points a yuan is not 40');
  t.match(w.reconciliation.note, /approvals moved other points than their amount at 40 points a yuan/);
  t.equal(w.ok, false);
});

t.test('swipe with no arguments asks a balance and moves no points; money needs --type', async (t) => {
  const { port } = await startSwitch(t);
  const r = await sim(['swipe', '--port', String(port), '--no-state', '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.same([j.kind, j.responseCode, j.balancePoints, j.pointsDebited], ['balance', '00', 1_000_000, null], 'a balance inquiry on the diamond card: its million points untouched');
  const amount = await sim(['swipe', '--port', String(port), '--no-state', '--card', diamond, '--amount', '1']);
  t.equal(amount.code, 2, 'an amount without --type is refused, not taken for a purchase');
  t.match(amount.stderr, /--amount needs --type purchase, refund or void \(with no --type, swipe asks a balance\)/);
  const after = JSON.parse((await sim(['swipe', '--port', String(port), '--no-state', '--type', 'balance', '--json'])).stdout);
  t.equal(after.balancePoints, 1_000_000, 'nothing was bought');
});

t.test('a void of a trace the terminal does not know: refused unless --force, which sends it and shows the switch\'s 25', async (t) => {
  const { port } = await startSwitch(t);
  const refused = await sim(['swipe', '--port', String(port), '--no-state', '--type', 'void', '--trace', '999999']);
  t.equal(refused.code, 2);
  t.match(refused.stderr, /no purchase with trace 999999 in batch \d{6} on this terminal \(--force sends the void anyway\)/);
  const forced = await sim(['swipe', '--port', String(port), '--no-state', '--type', 'void', '--trace', '999999', '--force', '--json']);
  t.equal(forced.code, 1, forced.stderr);
  t.same([JSON.parse(forced.stdout).kind, JSON.parse(forced.stdout).responseCode], ['void', '25'], 'the switch answers 25 original not found');
  const shell = await sim(['shell', '--port', String(port), '--no-state'], { stdin: 'void 999999\nvoid 999999 --force\nhelp\nquit\n' });
  t.match(shell.stdout, /error: no purchase with trace 999999/);
  t.match(shell.stdout, /---- VOID DECLINED 25 ----/);
  t.match(shell.stdout, /void <trace> \[--force\][\s\S]*the switch answers 25/, 'the shell\'s help says so');
  t.match((await sim(['swipe', '--help'])).stdout, /--force\s+void: send it even when this terminal has no purchase/, 'and swipe --help');
  t.match((await sim(['shell', '--help'])).stdout, /void <trace> \[--force\]/, 'and shell --help');
});

t.test('a scenario run of several files ends with one grand total line', async (t) => {
  const { port } = await startSwitch(t);
  const r = await sim(['scenario', '--port', String(port), '--no-state', 'test/simulators/fixtures/passing.yaml', 'test/simulators/fixtures/failing.yaml']);
  t.equal(r.code, 1);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines.at(-1), '✗ total: 3 passed, 1 failed, 2 files');
  t.equal(lines.filter((l) => /passed, \d+ failed/.test(l)).length, 3, 'the per-file lines stay');
  const one = await sim(['scenario', '--port', String(port), '--no-state', 'test/simulators/fixtures/passing.yaml']);
  t.notMatch(one.stdout, /total:/, 'one file: its own line is the total');
});

t.test('a number that is not a card number is refused with what a card number is', async (t) => {
  const { port } = await startSwitch(t);
  const swipe = await sim(['swipe', '--port', String(port), '--no-state', '--card', '1234']);
  t.equal(swipe.code, 2);
  t.match(swipe.stderr, /not a card number: "1234" \(a card number is 12–19 digits/);
  const shell = await sim(['shell', '--port', String(port), '--no-state'], { stdin: 'balance 1234\nquit\n' });
  t.match(shell.stdout, /error: not a card number: "1234" \(a card number is 12–19 digits/);
});

t.test('load beyond the seeded cards stops before it starts and says to seed more; seeded while the switch runs, the run goes', async (t) => {
  const { port, databaseUrl } = await startSwitch(t, { loadTerminals: 2, loadCards: 5 });
  const args = ['load', '--port', String(port), '--state-dir', stateDir(t), '--terminals', '2', '--cards', '8', '--rate', 'max', '--duration', '1', '--json', '-'];
  const short = await sim(args);
  t.equal(short.code, 1);
  t.equal(short.stdout, '', 'no run, no report');
  t.match(short.stderr, /card 8861000000000008, the last of the 8 load cards, was answered 14 invalid card number: seed more cards: `pointswitch seed --demo --load-cards 8`/);
  // The seed, while this switch runs: the switch reads cards it has not cached from PostgreSQL, so it sees them.
  const { createPool } = await import('../../src/db/pool.js');
  const { seedDemo } = await import('../../src/ledger/seed.js');
  const { Kek } = await import('../../src/ledger/index.js');
  const { testKekHex } = await import('../support/kek.js');
  const pool = createPool(databaseUrl, { poolSize: 1 });
  await seedDemo(pool, new Kek(testKekHex), { loadTerminals: 2, loadCards: 8 });
  await pool.end();
  const r = await sim(args);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).reconciliation.ok, true);
  t.notMatch(readFileSync('simulators/README.md', 'utf8'), /stop a switch|before `?npm start/i, 'the README no longer says to stop the switch first');
});
