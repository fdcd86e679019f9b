// Terminal working-key custody: a sign-on issues the terminal's working keys (or hands back ones it has not used
// yet), a sign-off drops them, a verified MAC proves them. Keys are stored and cached encrypted under the KEK;
// this module is the only one that encrypts or decrypts them.
import type { Pool } from '../db/pool.js';
import type { Kek } from './kek.js';
import type { Reference, TerminalCodec } from './reference.js';
import type { TerminalInfo } from './types.js';

export interface WorkingKeys { pik: Buffer; mak: Buffer; tdk: Buffer }

/** Sign-ons that find the row changed under them (another sign-on, a batch close) before one gives up. */
const signOnAttemptsMax = 6;

export class TerminalKeys {
  /**
   * `pool` commits without waiting for the WAL flush (see Ledger.open); `reference` is told of every row
   * changed here, so the cache and memo never serve keys older than the row's.
   */
  constructor(
    private readonly pool: Pool,
    private readonly kek: Kek,
    private readonly reference: Pick<Reference, 'terminalChanged'>,
  ) {}

  /**
   * Sign-on: the terminal's working keys from now on, and its batch. `fresh` become its keys, unless keys issued by
   * an earlier sign-on are still unproven (no MAC has verified under them) and of the same length: those are
   * returned again instead. A sign-on carries no MAC, so the switch cannot tell the terminal's from anyone
   * else's; this way a foreign sign-on after the terminal's own gets the terminal's keys (which only the holder
   * of its master key can read) rather than replacing them, and one before it hands the terminal keys it can use.
   * The keys a MAC last verified under stay usable until one verifies under the new ones, so a terminal that
   * never saw the new keys keeps working. Concurrent sign-ons: one writes, the others return what it wrote.
   */
  async signOn(terminalId: string, fresh: WorkingKeys): Promise<{ batchNo: string; keys: WorkingKeys }> {
    for (let attempt = 1; ; attempt++) {
      const { rows: found } = await this.pool.query('SELECT * FROM terminals WHERE terminal_id = $1', [terminalId]);
      const now = found[0];
      if (!now) throw new Error(`terminal ${terminalId} is not known`);
      const issued = this.unproven(now, fresh);
      if (issued) return { batchNo: now.batch_no, keys: issued };
      const row = await this.issue(terminalId, now.version, fresh);
      if (row) {
        await this.reference.terminalChanged(row);
        return { batchNo: String(row.batch_no), keys: fresh };
      }
      // Changed meanwhile (another sign-on, a batch close): read it again.
      if (attempt >= signOnAttemptsMax) throw new Error(`terminal ${terminalId} kept changing during its sign-on`);
    }
  }

  async signOff(terminalId: string): Promise<void> {
    const { rows } = await this.pool.query(
      `UPDATE terminals SET pik_enc = NULL, mak_enc = NULL, tdk_enc = NULL, prev_pik_enc = NULL, prev_mak_enc = NULL,
              prev_tdk_enc = NULL, keys_proven = true, signed_on = false, version = version + 1
       WHERE terminal_id = $1 RETURNING *`, [terminalId]);
    if (rows[0]) await this.reference.terminalChanged(rows[0]);
  }

  /**
   * A MAC verified under the terminal's current keys (`keysId`, as TerminalInfo gave it): they are proven, and the
   * keys kept from before its sign-on are dropped. A no-op if they are proven already or changed meanwhile (the
   * switch's TerminalCache.proven asks once a second at most).
   */
  async keysProven(terminalId: string, keysId: string): Promise<void> {
    const { rows } = await this.pool.query(
      `UPDATE terminals SET keys_proven = true, prev_pik_enc = NULL, prev_mak_enc = NULL, prev_tdk_enc = NULL,
              version = version + 1
       WHERE terminal_id = $1 AND NOT keys_proven AND mak_enc = decode($2, 'hex') RETURNING *`, [terminalId, keysId]);
    if (rows[0]) await this.reference.terminalChanged(rows[0]);
  }

  /** The keys an earlier sign-on issued and no MAC has proven yet, if they are as long as `fresh`; else null. */
  private unproven(row: Record<string, unknown>, fresh: WorkingKeys): WorkingKeys | null {
    if (!row.signed_on || row.keys_proven || !row.pik_enc || !row.mak_enc || !row.tdk_enc) return null;
    const dec = (b: unknown) => this.kek.decrypt(b as Buffer);
    const issued = { pik: dec(row.pik_enc), mak: dec(row.mak_enc), tdk: dec(row.tdk_enc) };
    return issued.mak.length === fresh.mak.length && issued.pik.length === fresh.pik.length ? issued : null;
  }

  /** `fresh` become the keys if the row is still at `version`; proven keys are kept as the previous ones. */
  private async issue(terminalId: string, version: number, fresh: WorkingKeys): Promise<Record<string, unknown> | undefined> {
    const { rows } = await this.pool.query(
      `UPDATE terminals SET
              prev_pik_enc = CASE WHEN keys_proven AND mak_enc IS NOT NULL THEN pik_enc ELSE prev_pik_enc END,
              prev_mak_enc = CASE WHEN keys_proven AND mak_enc IS NOT NULL THEN mak_enc ELSE prev_mak_enc END,
              prev_tdk_enc = CASE WHEN keys_proven AND mak_enc IS NOT NULL THEN tdk_enc ELSE prev_tdk_enc END,
              pik_enc = $3, mak_enc = $4, tdk_enc = $5, keys_proven = false, signed_on = true, signed_on_at = now(),
              version = version + 1
       WHERE terminal_id = $1 AND version = $2 RETURNING *`,
      [terminalId, version, this.kek.encrypt(fresh.pik), this.kek.encrypt(fresh.mak), this.kek.encrypt(fresh.tdk)],
    );
    return rows[0];
  }
}

/** The terminal's cache entry (one-letter fields, keys as encrypted hex) and the TerminalInfo read back from it. */
export function terminalCodec(kek: Kek): TerminalCodec {
  return { fields: terminalFields, info: (terminalId, h) => terminalFromFields(kek, terminalId, h) };
}

function terminalFields(row: Record<string, unknown>): Record<string, string> {
  const hex = (b: unknown) => (b instanceof Buffer ? b.toString('hex') : '');
  return {
    m: String(row.merchant_id), s: String(row.status), k: hex(row.tmk_enc), a: String(row.mac_algorithm),
    o: row.signed_on ? '1' : '0', b: String(row.batch_no), pik: hex(row.pik_enc), mak: hex(row.mak_enc), tdk: hex(row.tdk_enc),
    p: row.keys_proven === false ? '0' : '1', ppik: hex(row.prev_pik_enc), pmak: hex(row.prev_mak_enc), ptdk: hex(row.prev_tdk_enc),
  };
}

function terminalFromFields(kek: Kek, terminalId: string, h: Record<string, string>): TerminalInfo {
  const dec = (hex: string | undefined) => (hex ? kek.decrypt(Buffer.from(hex, 'hex')) : null);
  const pik = dec(h.pik), mak = dec(h.mak), tdk = dec(h.tdk);
  const ppik = dec(h.ppik), pmak = dec(h.pmak), ptdk = dec(h.ptdk);
  return {
    terminalId,
    merchantId: h.m ?? '',
    status: (h.s ?? 'closed') as TerminalInfo['status'],
    tmk: dec(h.k) ?? Buffer.alloc(0),
    macAlgorithm: (h.a ?? 'ecb') as TerminalInfo['macAlgorithm'],
    signedOn: h.o === '1',
    batchNo: h.b ?? '000001',
    keys: pik && mak && tdk ? { pik, mak, tdk } : null,
    keysId: h.mak || null,
    keysProven: h.p !== '0',
    provenKeys: ppik && pmak && ptdk ? { pik: ppik, mak: pmak, tdk: ptdk } : null,
  };
}
