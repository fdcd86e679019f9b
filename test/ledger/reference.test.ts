// Reference data read through, alone: Redis first, else Postgres (then cached); reads of numbers never found
// queue behind the lookups limit; the debit memo answers without a promise while fresh. Fakes stand in for
// Redis and Postgres so each rule shows without timing.
import t from 'tap';
import type { Cache } from '../../src/cache/redis.js';
import type { Pool } from '../../src/db/pool.js';
import { Kek } from '../../src/ledger/kek.js';
import { Reference } from '../../src/ledger/reference.js';
import { terminalCodec } from '../../src/ledger/terminal-keys.js';

const kek = new Kek();
const mak = Buffer.from('00112233445566778899AABBCCDDEEFF', 'hex');

function terminalRow(terminalId: string, o: { status?: string; version?: number } = {}): Record<string, unknown> {
  return {
    terminal_id: terminalId, merchant_id: '898310048160001', status: o.status ?? 'active', tmk_enc: kek.encrypt(Buffer.alloc(16, 1)),
    mac_algorithm: 'ecb', signed_on: true, batch_no: '000001', pik_enc: kek.encrypt(Buffer.alloc(16, 2)), mak_enc: kek.encrypt(mak),
    tdk_enc: kek.encrypt(Buffer.alloc(16, 3)), keys_proven: true, prev_pik_enc: null, prev_mak_enc: null, prev_tdk_enc: null,
    version: o.version ?? 1,
  };
}

class FakeCache {
  readonly prefix = 'ref:';
  readonly entries = new Map<string, Record<string, string>>();
  async getHash(key: string): Promise<Record<string, string> | null> { return this.entries.get(key) ?? null; }
  async setIfNewer(key: string, version: number, _ttlMs: number, fields: Record<string, string>): Promise<void> {
    this.entries.set(key, { ...fields, v: String(version) });
  }
  async del(key: string): Promise<void> { this.entries.delete(key); }
}

/** Postgres with the terminals given; each read of a number starting with 7 is held until `release()`. */
function fakePool(rows: Array<Record<string, unknown>>) {
  const reads: string[] = [];
  const held: Array<() => void> = [];
  let active = 0;
  const pool = {
    async query(_sql: string, params: unknown[]) {
      const id = String(params[0]);
      reads.push(id);
      active++;
      if (id.startsWith('7')) await new Promise<void>((r) => held.push(r));
      active--;
      return { rows: rows.filter((r) => r.terminal_id === id) };
    },
  };
  return { pool: pool as unknown as Pool, reads, active: () => active, release: () => held.splice(0).forEach((r) => r()) };
}

function reference(rows: Array<Record<string, unknown>>, lookupsInFlightMax = 4) {
  const db = fakePool(rows);
  const cache = new FakeCache();
  return { db, cache, ref: new Reference(db.pool, cache as unknown as Cache, terminalCodec(kek), lookupsInFlightMax) };
}

t.test('a terminal is read from Postgres once, then from the cache, where its keys stay encrypted', async (t) => {
  const { db, cache, ref } = reference([terminalRow('10000001')]);
  const first = await ref.terminal('10000001');
  t.same(first?.keys?.mak, mak, 'the working keys come back clear');
  t.same(db.reads, ['10000001']);
  const cached = [...cache.entries.values()][0]!;
  t.notOk(JSON.stringify(cached).includes(mak.toString('hex')), 'the cache holds no clear key');
  t.same(await ref.terminal('10000001'), first, 'the second read is the same terminal');
  t.same(db.reads, ['10000001'], 'from the cache: Postgres is not asked again');
});

t.test('a terminal not found is null, and nothing is cached for it', async (t) => {
  const { cache, ref } = reference([]);
  t.equal(await ref.terminal('10000009'), null);
  t.equal(cache.entries.size, 0);
});

t.test('reads of numbers never found wait behind the lookups limit; a number once found does not', async (t) => {
  const { db, ref } = reference([terminalRow('10000001')], 2);
  await ref.terminal('10000001');
  await ref.forgetTerminal('10000001');       // its cache entry gone, as when it expires
  const unknown = Promise.all(Array.from({ length: 5 }, (_, i) => ref.terminal(`7000000${i}`)));
  await new Promise((r) => setImmediate(r));
  t.equal(db.active(), 2, 'two at Postgres at once');
  t.equal(ref.lookupsWaiting, 3, 'the others wait, holding no connection');
  t.equal((await ref.terminal('10000001'))?.terminalId, '10000001', 'the known number is read while they wait');
  for (let i = 0; i < 3; i++) { db.release(); await new Promise((r) => setImmediate(r)); }
  t.same(await unknown, [null, null, null, null, null]);
  t.equal(ref.lookupsWaiting, 0);
});

t.test('the debit memo judges without a promise while fresh; a change made by the ledger is seen at once', async (t) => {
  const { ref } = reference([terminalRow('10000001')]);
  const first = ref.checkTerminal('10000001', '898310048160001');
  t.ok(first instanceof Promise, 'the first judgement reads the terminal');
  t.equal(await first, null, 'an active terminal of this merchant may debit');
  t.equal(ref.checkTerminal('10000001', '898310048160001'), null, 'then from the memo, without a promise');
  t.same(ref.checkTerminal('10000001', '898310048169999'), { kind: 'invalid-merchant' }, 'another merchant\'s debit is refused');
  await ref.terminalChanged(terminalRow('10000001', { status: 'suspended', version: 2 }));
  t.same(await ref.checkTerminal('10000001', '898310048160001'), { kind: 'terminal-not-permitted' }, 'the suspension, from the rewritten cache entry');
});
