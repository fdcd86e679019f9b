// The key-encryption key: a malformed one stops start-up; unset or empty (docker compose passes
// POINTSWITCH_KEK= when none is given) means the development key, flagged so start can warn.
import t from 'tap';
import { Kek, devKekHex } from '../../src/ledger/kek.js';

t.test('unset or empty: the development key, flagged', async (t) => {
  t.equal(new Kek(undefined).isDev, true);
  t.equal(new Kek(null).isDev, true);
  t.equal(new Kek('').isDev, true);
  t.equal(new Kek(devKekHex).isDev, true);
});

t.test('a real key is used, and encrypts differently from the development key', async (t) => {
  const real = new Kek('00112233445566778899AABBCCDDEEFF');
  t.equal(real.isDev, false);
  const clear = Buffer.from('0123456789ABCDEF', 'hex');
  t.same(real.decrypt(real.encrypt(clear)), clear);
  t.throws(() => new Kek('').decrypt(real.encrypt(clear)), 'the dev key cannot open what the real key sealed');
});

t.test('a malformed key is refused with a readable message', async (t) => {
  for (const bad of ['xyz', '0011', 'G'.repeat(32)]) t.throws(() => new Kek(bad), /POINTSWITCH_KEK must be 32, 48 or 64 hex characters/);
});
