// The fault suite's reconciliation fails when the ledger and what the terminals saw disagree: each check, on a
// tampered copy of a picture that passes.
import t from 'tap';
import type { Seen } from './fleet.js';
import { reconcile, type Check, type LedgerRow, type Observed, type Picture } from './reconcile.js';
import { allHeld, formatTable, type Row } from './table.js';

const card = '8861000000000001';
const other = '8861000000000002';

function seen(trace: string, kind: Seen['kind'], answer: Seen['answer'], reversal: Seen['reversal'] = 'none', cardNo = card): Seen {
  return { terminalId: '90000001', batchNo: '000001', trace, kind, cardNo, amountFen: 1000, answer, code: answer === 'approved' ? '00' : answer === 'declined' ? '51' : null, rrn: answer === 'approved' ? `00000000${trace.slice(-4)}` : null, reversal };
}

function row(trace: string, kind: string, state: string, points: number, moved: number, cardNo = card, responseCode = '00'): LedgerRow {
  return { terminalId: '90000001', batchNo: '000001', trace, kind, state, responseCode, cardNo, points, moved };
}

/**
 * A purchase (500 points), voided; a second purchase (300) kept; a purchase whose answer was lost and reversed;
 * a decline; another card untouched.
 */
function passing(): { o: Observed; p: Picture } {
  return {
    o: {
      seen: [seen('000001', 'purchase', 'approved'), seen('000002', 'void', 'approved'), seen('000003', 'purchase', 'approved'),
        seen('000004', 'purchase', 'none', 'approved'), seen('000005', 'purchase', 'declined')],
      resendMismatches: 0,
      reversalsOwed: 0,
    },
    p: {
      rows: [row('000001', 'purchase', 'voided', 500, -500), row('000002', 'void', 'approved', 500, 500), row('000003', 'purchase', 'approved', 300, -300),
        row('000004', 'purchase', 'reversed', 200, 0), row('000005', 'purchase', 'declined', 0, 0, card, '51')],
      before: new Map([[card, 10_000], [other, 10_000]]),
      after: new Map([[card, 9700], [other, 10_000]]),
    },
  };
}

function failed(checks: Check[]): string[] {
  return checks.filter((c) => !c.ok).map((c) => c.name);
}

t.test('a ledger that matches what the terminals saw passes every check', async (t) => {
  const { o, p } = passing();
  t.same(failed(reconcile(o, p)), []);
});

t.test('an approval the terminal received with no debit in the ledger fails "every approval seen has its debit"', async (t) => {
  const { o, p } = passing();
  p.rows = p.rows.filter((r) => r.trace !== '000003');
  p.after.set(card, 10_000);
  t.ok(failed(reconcile(o, p)).includes('every approval seen has its debit'));
  const booked = passing();
  booked.p.rows[2]!.moved = 0;   // the row is there, its ledger transaction is not
  t.ok(failed(reconcile(booked.o, booked.p)).includes('every approval seen has its debit'));
});

t.test('a reversed request that still moved points fails "every reversed request left the balance as before"', async (t) => {
  const { o, p } = passing();
  p.rows[3] = row('000004', 'purchase', 'approved', 200, -200);
  p.after.set(card, 9500);
  t.ok(failed(reconcile(o, p)).includes('every reversed request left the balance as before'));
});

t.test('a declined request that moved points fails "every reversed request left the balance as before"', async (t) => {
  const { o, p } = passing();
  p.rows[4] = row('000005', 'purchase', 'declined', 100, -100, card, '51');
  t.ok(failed(reconcile(o, p)).includes('every reversed request left the balance as before'));
});

t.test('a point debited twice fails "no point debited twice"', async (t) => {
  const twiceOnCard = passing();
  twiceOnCard.p.after.set(card, 9400);   // the second purchase's 300 points taken again
  t.ok(failed(reconcile(twiceOnCard.o, twiceOnCard.p)).includes('no point debited twice'));
  const unexplained = passing();
  unexplained.p.rows.push(row('000099', 'purchase', 'approved', 300, -300, other));
  unexplained.p.after.set(other, 9700);
  t.ok(failed(reconcile(unexplained.o, unexplained.p)).includes('no point debited twice'), 'a debit no terminal saw approved');
  const resent = passing();
  resent.o.resendMismatches = 1;
  t.ok(failed(reconcile(resent.o, resent.p)).includes('no point debited twice'), 'a retransmission answered with another RRN');
});

t.test('a request left unanswered and never reversed fails "every unanswered request reversed"', async (t) => {
  const { o, p } = passing();
  o.seen.push(seen('000006', 'purchase', 'none', 'pending'));
  t.ok(failed(reconcile(o, p)).includes('every unanswered request reversed'));
  const owed = passing();
  owed.o.reversalsOwed = 2;
  t.ok(failed(reconcile(owed.o, owed.p)).includes('every unanswered request reversed'));
});

t.test('the table says NO, names the failed check, and the suite exits non-zero, when one check failed', async (t) => {
  const ok: Row = { fault: 'switch-kill', requests: 10, approvals: 8, reversals: 1, retransmissions: 1, resendMismatches: 0, retransmissionsAnsweredOtherwise: 0, signOns: 2, recoveredMs: 1500, checks: [{ name: 'a', ok: true, detail: '' }] };
  const bad: Row = { ...ok, fault: 'machine-down', checks: [{ name: 'a', ok: true, detail: '' }, { name: 'no point debited twice', ok: false, detail: 'card …' }] };
  t.equal(allHeld([ok]), true);
  t.equal(allHeld([ok, bad]), false);
  const table = formatTable([ok, bad]);
  t.match(table, /\| machine-down .*\| NO: no point debited twice/);
  t.match(table, /\| total .*\| NO/);
  t.match(formatTable([ok]), /yes: 1 faults survived/);
});
