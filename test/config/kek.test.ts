// The key-encryption key has one rule, read once: what the settings accept, Kek accepts, and the reverse.
import t from 'tap';
import { loadConfig } from '../../src/config/index.js';
import { devKekHex, devKekWarning, Kek, kekFromConfig } from '../../src/ledger/kek.js';

const hex = (n: number) => '0123456789ABCDEF'.repeat(4).slice(0, n);

t.test('32 and 48 hex digits (3DES) and 64 (AES-256) are a KEK to the settings and to Kek alike; other lengths to neither', async (t) => {
  for (const n of [32, 48, 64]) {
    const r = loadConfig({ env: { POINTSWITCH_KEK: hex(n) } });
    t.equal(r.ok && r.config.kekHex, hex(n), `${n} digits: the settings take it`);
    t.doesNotThrow(() => new Kek(hex(n)), `${n} digits: Kek takes it`);
    t.equal(new Kek(hex(n).toLowerCase()).pinVerification('8860000000000001', '123456'), new Kek(hex(n)).pinVerification('8860000000000001', '123456'), 'either case');
  }
  for (const bad of [hex(16), hex(40), hex(62), `${hex(62)}GG`, `${hex(64)}00`]) {
    const r = loadConfig({ env: { POINTSWITCH_KEK: bad } });
    t.notOk(r.ok, `${bad.length} characters: the settings refuse it`);
    if (!r.ok) t.match(r.errors[0], /^kekHex from POINTSWITCH_KEK: must be 32 or 48 hex digits \(a double- or triple-length 3DES key\) or 64 \(an AES-256 key\)$/);
    t.throws(() => new Kek(bad), /POINTSWITCH_KEK must be 32, 48 or 64 hex characters/, `${bad.length} characters: Kek refuses it`);
  }
  const dev = loadConfig({ env: { POINTSWITCH_KEK: devKekHex } });
  t.ok(dev.ok, 'the development key itself (64 digits) is a valid setting');
});

t.test('kekFromConfig makes the KEK of the settings, and warns only when it is the development key', async (t) => {
  const warned: string[] = [];
  const real = kekFromConfig({ kekHex: hex(48) }, (w) => warned.push(w));
  t.equal(real.isDev, false);
  t.same(warned, []);
  t.equal(real.pinVerification('8860000000000001', '123456'), new Kek(hex(48)).pinVerification('8860000000000001', '123456'));
  const dev = kekFromConfig({ kekHex: undefined }, (w) => warned.push(w));
  t.equal(dev.isDev, true);
  t.same(warned, [devKekWarning]);
  t.match(devKekWarning, /POINTSWITCH_KEK is unset/);
});
