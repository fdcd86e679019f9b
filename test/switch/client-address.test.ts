// The client address per-address limits are kept by: IPv4 as it is, IPv6 by its /64.
import t from 'tap';
import { clientAddress } from '../../src/switch/server.js';

t.test('an IPv6 client is its /64; IPv4 and IPv4-mapped addresses are themselves', async (t) => {
  t.equal(clientAddress('10.1.2.3'), '10.1.2.3');
  t.equal(clientAddress('::ffff:10.1.2.3'), '10.1.2.3', 'IPv4-mapped (a dual-stack listener) is the IPv4 address');
  t.equal(clientAddress('::FFFF:10.1.2.3'), '10.1.2.3');
  t.equal(clientAddress('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  t.equal(clientAddress('2001:0db8:0001:0002:0000:0000:0000:0001'), '2001:db8:1:2::/64', 'leading zeros do not make another client');
  t.equal(clientAddress('2001:db8:1:2::1'), '2001:db8:1:2::/64', 'the same /64, written short');
  t.equal(clientAddress('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(clientAddress('2001:db8:1:3::1'), '2001:db8:1:3::/64', 'the next /64 is another client');
  t.equal(clientAddress('::1'), '0:0:0:0::/64');
  t.equal(clientAddress('fe80::1%eth0'), 'fe80:0:0:0::/64', 'a zone does not matter');
  t.equal(clientAddress(undefined), 'unknown');
  // A host taking a fresh address for each connection stays one client.
  const many = new Set(Array.from({ length: 100 }, (_, i) => clientAddress(`2001:db8:5:6:${i.toString(16)}::${i + 1}`)));
  t.same([...many], ['2001:db8:5:6::/64']);
});
