import t from 'tap';
import { RefusalGuard } from '../../src/switch/refusal-guard.js';
import type { ConnectionInfo } from '../../src/switch/server.js';

let ids = 0;
function conn(remote: string, trusted = false): ConnectionInfo {
  const c = { id: ++ids, remote, trusted, trust: () => { c.trusted = true; }, aside: <T>(p: Promise<T>) => p };
  return c;
}

t.test('refusals are charged to their address; a refusing connection then pays up front and waits while the address owes', async (t) => {
  let now = 0;
  const g = new RefusalGuard(10, { burst: 3, suspectMs: 1000, warnEveryMs: 10_000, entriesMax: 100, now: () => now });
  const a = conn('10.0.0.1');
  for (let i = 0; i < 3; i++) {
    const adm = g.admit(a);
    t.same([adm.waitMs, adm.paid], [0, i === 0 ? false : true], i === 0 ? 'a new connection\'s first request is free' : 'after a refusal it pays its turn, within the burst at once');
    g.refuse(a, adm);
  }
  t.equal(g.left('10.0.0.1'), 0, 'three refusals took the burst of three, each charged once');
  const owing = g.admit(a);
  t.same([owing.waitMs, owing.paid, owing.warn], [100, true, true], 'the fourth waits a tenth of a second, and the first wait is worth a log line');
  g.refuse(a, owing);
  t.equal(g.left('10.0.0.1'), -1, 'a paid refusal is not charged again');
  const next = g.admit(a);
  t.same([next.waitMs, next.warn], [200, false], 'the next waits its own turn after that, and is not logged again');
  t.equal(g.delayed, 2, 'the waits are counted');
});

t.test('who does not wait: trusted connections of the owing address, other addresses, and a connection whose refusals are past', async (t) => {
  let now = 0;
  const g = new RefusalGuard(10, { burst: 3, suspectMs: 1000, warnEveryMs: 10_000, entriesMax: 100, now: () => now });
  const bad = conn('10.0.0.1');
  const goodSameAddress = conn('10.0.0.1', true);
  for (let i = 0; i < 6; i++) g.refuse(bad, g.admit(bad));
  t.ok(g.left('10.0.0.1') < 0, 'the address owes turns');
  t.same(g.admit(goodSameAddress), { waitMs: 0, paid: false }, 'a trusted connection that is not refused does not wait, whatever its address owes');
  const redial = g.admit(conn('10.0.0.1'));
  t.ok(redial.paid && redial.waitMs > 0, 'a new connection from the owing address pays and waits: dialling again does not shed the debt');
  t.same(g.admit(conn('10.0.0.2')), { waitMs: 0, paid: false }, 'another address is not held up');
  const trustedRefused = conn('10.0.0.2', true);
  g.refuse(trustedRefused, g.admit(trustedRefused));
  t.equal(g.admit(trustedRefused).paid, true, 'a trusted connection that was just refused pays for its next request');
  now = 5000;                                   // refusals a second or more past, every debt repaid
  t.same(g.admit(bad), { waitMs: 0, paid: false }, 'a connection refused long ago, from an address that owes nothing, is free again');
  t.same(g.admit(trustedRefused), { waitMs: 0, paid: false });
  now = 5500;
  for (let i = 0; i < 20; i++) g.refuse(bad, g.admit(bad));
  t.equal(g.admit(bad).warn, false, 'a wait within warnEveryMs of the last reported one is not reported');
  now = 16_000;                                 // over warnEveryMs since the last report, and repaid
  for (let i = 0; i < 3; i++) g.refuse(bad, g.admit(bad));
  const again = g.admit(bad);
  t.same([again.waitMs > 0, again.warn], [true, true], 'owing again more than warnEveryMs later is reported again');
  t.equal(new RefusalGuard(2000).burst, 200, 'the default burst is a tenth of a second of the rate');
  t.equal(new RefusalGuard(200).burst, 32, 'and at least a connection\'s pipeline');
  t.throws(() => new RefusalGuard(0), RangeError);
});

t.test('the switch-wide budget holds many addresses that each stay under their own', async (t) => {
  let now = 0;
  // Each address may refuse 100 a second (bursts of 50), the whole switch 10 (bursts of 4).
  const g = new RefusalGuard(100, { burst: 50, switchRatePerS: 10, switchBurst: 4, suspectMs: 1000, warnEveryMs: 10_000, entriesMax: 100, now: () => now });
  const bad = ['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4'].map((a) => conn(a));
  for (const c of bad) g.refuse(c, g.admit(c));
  t.equal(g.switchLeft(), 0, 'four refusals from four addresses took the switch\'s burst of four');
  t.same(bad.map((c) => g.left(c.remote)), [49, 49, 49, 49], 'each address is far inside its own budget');
  const next = g.admit(bad[0]!);
  t.same([next.paid, next.waitMs, next.warn], [true, 100, true], 'a refusing connection waits for the switch\'s turn, and that is worth a line in the log');
  g.refuse(bad[0]!, next);
  const other = g.admit(bad[1]!);
  t.same([other.waitMs, other.warn], [200, false], 'the next one, from another address, queues behind it: reported once for the switch, not per address');
  t.equal(g.admit(conn('10.0.1.2')).paid, true, 'an untrusted new connection from an address refused within suspectMs waits too (no shedding the debt by dialling again)');
  t.same(g.admit(conn('10.0.2.1')), { waitMs: 0, paid: false }, 'a connection from an address with no recent refusal does not wait: a terminal dialling in meanwhile');
  t.same(g.admit(conn('10.0.1.3', true)), { waitMs: 0, paid: false }, 'nor does a trusted connection');
  t.equal(g.delayed, 3);
  now = 2000;                                   // the addresses' refusals a second past, the switch's debt repaid
  t.same(g.admit(conn('10.0.1.4')), { waitMs: 0, paid: false }, 'once the switch owes nothing and the refusals are past, a new connection is free again');
  t.equal(new RefusalGuard(200).switchLeft(), undefined, 'no switch-wide budget unless asked for');
  t.equal(new RefusalGuard(200, { switchRatePerS: 1000 }).switchLeft(), 100, 'its default burst is a tenth of a second of its rate');
});
