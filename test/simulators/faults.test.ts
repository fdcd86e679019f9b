// Each fault flag of `pointswitch-sim swipe`, against a real switch: what the switch must do with it.
import t from 'tap';
import { sim, startSwitch } from './support.js';

const diamond = '8860000000000007';

async function swipe(port: number, fault: string, extra: string[] = []) {
  const r = await sim(['swipe', '--port', String(port), '--no-state', '--type', 'purchase', '--card', diamond, '--amount', '3', `--${fault}`, '--json', ...extra]);
  return { code: r.code, stderr: r.stderr, report: r.stdout ? JSON.parse(r.stdout) : null };
}

async function balance(port: number): Promise<number> {
  const r = await sim(['swipe', '--port', String(port), '--no-state', '--type', 'balance', '--card', diamond, '--json']);
  return JSON.parse(r.stdout).balancePoints as number;
}

t.test('--drop-answer: the terminal ignores the approval, reverses, and the points come back', async (t) => {
  const { port } = await startSwitch(t);
  const { report } = await swipe(port, 'drop-answer');
  t.equal(report.switchAnswer, '00', 'the switch had approved the purchase');
  t.equal(report.result.reversal.responseCode, '00', 'and approved the reversal');
  t.equal(report.balanceAfter, 1_000_000);
});

t.test('--resend: the same request twice gets the same answer and is debited once', async (t) => {
  const { port } = await startSwitch(t);
  const { report } = await swipe(port, 'resend');
  t.equal(report.result.responseCode, '00');
  t.equal(report.sameRrn, true);
  t.equal(await balance(port), 1_000_000 - 150);
});

t.test('--corrupt-mac: a request whose MAC does not verify is refused A0 and moves no points', async (t) => {
  const { port } = await startSwitch(t);
  const { report } = await swipe(port, 'corrupt-mac');
  t.equal(report.result.responseCode, 'A0');
  t.equal(await balance(port), 1_000_000);
});

t.test('--garbage: random bytes get a format error or a closed connection, and the switch keeps serving', async (t) => {
  const { port } = await startSwitch(t);
  const { report } = await swipe(port, 'garbage');
  t.ok(['30', 'closed'].includes(report.switchAnswer), `switch answered ${report.switchAnswer}`);
  t.equal(report.switchStillServes, true);
  t.equal(report.balanceAfter, 1_000_000);
});

t.test('--truncated: a frame that stops inside its fields is answered 30, and the switch keeps serving', async (t) => {
  const { port } = await startSwitch(t);
  const { report } = await swipe(port, 'truncated');
  t.equal(report.switchAnswer, '30');
  t.equal(report.switchStillServes, true);
  t.equal(report.balanceAfter, 1_000_000);
});

t.test('--half-open: a connection stuck mid-frame does not stop another connection being served', async (t) => {
  const { port } = await startSwitch(t);
  const { report } = await swipe(port, 'half-open', ['--hold-ms', '500']);
  t.equal(report.result.responseCode, '00');
  t.equal(report.switchStillServes, true);
  t.type(report.closedByServer, 'boolean');
});

t.test('--wrong-key: working keys fail their check values under a wrong TMK, and a request MACed with them is refused A0', async (t) => {
  const { port } = await startSwitch(t);
  const { report } = await swipe(port, 'wrong-key');
  t.equal(report.keysRejected, true);
  t.equal(report.result.responseCode, 'A0');
  t.equal(await balance(port), 1_000_000);
});

t.test('two fault flags at once are refused', async (t) => {
  const r = await sim(['swipe', '--port', '1', '--no-state', '--resend', '--garbage']);
  t.equal(r.code, 2);
  t.match(r.stderr, /one fault at a time/);
});
