import t from 'tap';
import { RefusalGuard } from '../../src/switch/refusal-guard.js';
import type { ConnectionInfo } from '../../src/switch/server.js';

let ids = 0;
function conn(remote: string, trusted = false): ConnectionInfo {
  const c = { id: ++ids, remote, trusted, trust: () => { c.trusted = true; } };
  return c;
}

t.test('refusals are charged to their address; a refusing connection then pays up front and waits while the address owes', async (t) => {
  let now = 0;
  const g = new RefusalGuard(10, 3, 1000, 10_000, 100, () => now);
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
  const g = new RefusalGuard(10, 3, 1000, 10_000, 100, () => now);
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
