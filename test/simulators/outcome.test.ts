// `swipe`'s headings and exit codes, one test an outcome, each against the table in simulators/README.md: a request
// that never left is NOT SENT (4), one sent and not answered NO ANSWER (3), an answer APPROVED (0) or DECLINED
// with its code (1), a sign-on whose working keys fail under the terminal's master key KEYS REJECTED (5), and
// arguments refused before anything is sent 2.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { exitCodes } from '../../simulators/outcome.js';
import { answerSwallowingProxy, sim, startSwitch, stateDir } from './support.js';

const diamond = '8860000000000007';

t.test('the README\'s exit-code table is the one the simulator uses', async (t) => {
  const readme = readFileSync('simulators/README.md', 'utf8');
  const rows = [...readme.matchAll(/^\| `(\d)` \| `([A-Z0-9 …-]+)`/gm)].map((m) => [Number(m[1]), m[2]]);
  t.same(rows.map(([code]) => code), Object.values(exitCodes).sort(), 'one row a code');
  t.same(Object.fromEntries(rows.map(([code, head]) => [code, head])), {
    0: 'APPROVED', 1: 'DECLINED 51 …', 2: '-', 3: 'NO ANSWER', 4: 'NOT SENT', 5: 'KEYS REJECTED',
  });
});

t.test('no switch listening: the heading says NOT SENT, never DECLINED, it exits 4 and leaves no reversal pending', async (t) => {
  const { freePort } = await import('../../src/net/free-port.js');
  const port = await freePort();
  const dir = stateDir(t);
  const signingOn = await sim(['swipe', '--port', String(port), '--state-dir', dir]);
  t.equal(signingOn.code, exitCodes['not-sent']);
  t.match(signingOn.stdout, /---- SIGN-ON NOT SENT ----\n\s+response\s+not sent: cannot connect/);
  t.notMatch(signingOn.stdout, /DECLINED/);
  const r = await sim(['swipe', '--port', String(port), '--state-dir', dir, '--no-sign-on', '--type', 'purchase', '--card', diamond, '--amount', '1', '--json']);
  t.equal(r.code, 4);
  const j = JSON.parse(r.stdout);
  t.equal(j.outcome, 'no-connection');
  t.match(j.meaning, /^not sent: cannot connect/);
  t.equal(j.reversal, undefined, 'nothing was sent, so nothing is reversed');
  const [file] = readdirSync(dir);
  t.same(JSON.parse(readFileSync(path.join(dir, file!), 'utf8')).pendingReversals, []);
});

t.test('an answer that never comes: NO ANSWER, the purchase reversed, exit 3', async (t) => {
  const { port } = await startSwitch(t);
  const proxy = await answerSwallowingProxy(t, port, (mti) => mti === '0210');
  const r = await sim(['swipe', '--port', String(proxy.port), '--no-state', '--timeout-ms', '700', '--type', 'purchase', '--card', diamond, '--amount', '2']);
  t.equal(r.code, exitCodes['no-answer'], r.stdout + r.stderr);
  t.match(r.stdout, /---- PURCHASE NO ANSWER ----/);
  t.match(r.stdout, /reversal sent for the unanswered request:\n\s+---- REVERSAL APPROVED ----/);
});

t.test('approved exits 0; declined names its code in the heading and exits 1', async (t) => {
  const { port } = await startSwitch(t);
  const ok = await sim(['swipe', '--port', String(port), '--no-state', '--type', 'purchase', '--card', diamond, '--amount', '1']);
  t.equal(ok.code, exitCodes.approved, ok.stderr);
  t.match(ok.stdout, /---- PURCHASE APPROVED ----/);
  const no = await sim(['swipe', '--port', String(port), '--no-state', '--type', 'purchase', '--card', '8860000000000002', '--amount', '100']);
  t.equal(no.code, exitCodes.declined);
  t.match(no.stdout, /---- PURCHASE DECLINED 51 ----\n\s+response\s+51 insufficient points/);
});

t.test('a wrong master key: KEYS REJECTED above the switch\'s 00, not DECLINED, exit 5', async (t) => {
  const { port } = await startSwitch(t);
  const r = await sim(['swipe', '--port', String(port), '--no-state', '--tmk', '11111111111111112222222222222222']);
  t.equal(r.code, exitCodes['keys-rejected'], r.stdout + r.stderr);
  t.match(r.stdout, /---- SIGN-ON KEYS REJECTED ----\n\s+response\s+00 approved[\s\S]*working keys rejected/);
  t.notMatch(r.stdout, /DECLINED/);
});

t.test('arguments refused before anything is sent exit 2', async (t) => {
  const r = await sim(['swipe', '--port', '1', '--no-state', '--type', 'purchase', '--card', diamond]);
  t.equal(r.code, exitCodes['bad-arguments']);
  t.match(r.stderr, /--type purchase needs --amount/);
});
