// A tester's own terminal: described once in a profile and used by name; the switch's 03 explained; the receipt's
// points read from the balances the switch answers, whatever the merchant's rate.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { profileFile } from '../../simulators/profile.js';
import { addOwnTerminal, own, sim, startSwitch, stateDir } from './support.js';

t.test('a profile describes a terminal once; a swipe by its name uses its merchant and key, and the receipt shows the points the switch debited', async (t) => {
  const { port, adminUrl, operatorKey } = await startSwitch(t);
  await addOwnTerminal(adminUrl, operatorKey);
  const dir = stateDir(t);
  const add = await sim(['profile', 'add', 'tea', '--state-dir', dir, '--terminal', own.terminal, '--merchant', own.merchant, '--tmk', own.tmk, '--port', String(port)]);
  t.equal(add.code, 0, add.stderr);
  const file = profileFile(dir, 'tea');
  t.same(JSON.parse(readFileSync(file, 'utf8')), { terminal: own.terminal, merchant: own.merchant, tmk: own.tmk, port });
  t.equal(statSync(file).mode & 0o777, 0o600, 'it holds a master key: owner-only');
  const r = await sim(['swipe', '--profile', 'tea', '--state-dir', dir, '--type', 'purchase', '--card', own.card, '--amount', '10', '--json']);
  t.equal(r.code, 0, r.stdout + r.stderr);
  const j = JSON.parse(r.stdout);
  t.same([j.terminalId, j.merchantId, j.responseCode], [own.terminal, own.merchant, '00']);
  t.equal(j.pointsDebited, 400, '10 yuan at this merchant\'s 40 points a yuan, read from the balances the switch answered');
  t.equal(j.balancePoints, own.points - 400);
  const text = await sim(['swipe', '--profile', 'tea', '--state-dir', dir, '--type', 'purchase', '--card', own.card, '--amount', '0.01']);
  t.match(text.stdout, /PURCHASE APPROVED[\s\S]*points debited\s+1\n[\s\S]*balance left\s+4599 points/, 'the printed receipt too, rounded up to the whole point');
  const file2 = path.join(dir, 'own.yaml');
  writeFileSync(file2, `steps:\n  - signon\n  - balance: { card: '${own.card}' }\n  - purchase: { card: '${own.card}', yuan: 1 }\n    expect: { code: '00', points: 40, balanceChange: -40 }\n`);
  const scenario = await sim(['scenario', '--profile', 'tea', '--state-dir', dir, file2]);
  t.equal(scenario.code, 0, scenario.stdout + scenario.stderr);
  t.match(scenario.stdout, /signon \(terminal NEWC0001\)/, 'a scenario runs on the profile\'s terminal and merchant too');
  const list = await sim(['profile', 'list', '--state-dir', dir]);
  t.match(list.stdout, /^tea\s+terminal NEWC0001\s+merchant 898310048169999/);
  t.notMatch(list.stdout, new RegExp(own.tmk), 'list does not show the master key');
  const missing = await sim(['swipe', '--profile', 'nope', '--state-dir', dir]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /no terminal profile "nope"[\s\S]*pointswitch-sim profile add/);
  const bad = await sim(['profile', 'add', 'x', '--state-dir', dir, '--terminal', own.terminal, '--merchant', own.merchant, '--tmk', '1234']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /tmk: a master key is 16 or 32 hex digits/);
});

t.test('a terminal the simulator does not know needs its merchant: it is asked for, never the demo merchant sent in its place', async (t) => {
  const r = await sim(['swipe', '--port', '1', '--no-state', '--terminal', own.terminal, '--tmk', own.tmk]);
  t.equal(r.code, 2);
  t.match(r.stderr, /terminal NEWC0001 is not a demo terminal, so the simulator does not know its merchant: give --merchant <id>, or describe the terminal once with `pointswitch-sim profile add/);
});

t.test('the switch answers 03: the receipt says the merchant number does not match the terminal\'s, and how to set it', async (t) => {
  const { port, adminUrl, operatorKey } = await startSwitch(t);
  await addOwnTerminal(adminUrl, operatorKey);
  const r = await sim(['swipe', '--port', String(port), '--no-state', '--terminal', own.terminal, '--merchant', '898310048160001', '--tmk', own.tmk]);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stdout, /---- SIGN-ON DECLINED 03 ----/);
  t.match(r.stdout, /note\s+merchant 898310048160001 does not match terminal NEWC0001's merchant at the switch[\s\S]*--merchant <id>[\s\S]*pointswitch-sim profile add <name> --terminal NEWC0001/);
});
