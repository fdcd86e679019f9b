-- Up Migration
-- A sign-on needs no MAC (it carries none), so anyone who knows a terminal's number can send one, and each used to
-- replace the terminal's working keys: the real terminal's next requests failed their MAC (A0) until it signed on
-- again, and a client signing on in a loop kept it out. So a terminal's working keys are kept in two sets:
-- - the current set (pik_enc, mak_enc, tdk_enc), issued by the last sign-on;
-- - the proven set (prev_*): the keys a MAC last verified under, kept after a sign-on until a MAC verifies under
--   the new set (keys_proven), then dropped.
-- A request whose MAC verifies under either set is accepted, and answered under the keys it used. A sign-on sent
-- by someone else then costs the terminal nothing; one sent by the terminal itself retires the old keys at its
-- first MAC'd request after it. (And while the current set is unproven, a sign-on answers with it again instead of
-- replacing it: Ledger.signOn.)
ALTER TABLE terminals
  ADD COLUMN keys_proven  boolean NOT NULL DEFAULT true,
  ADD COLUMN prev_pik_enc bytea,
  ADD COLUMN prev_mak_enc bytea,
  ADD COLUMN prev_tdk_enc bytea;

-- Down Migration
ALTER TABLE terminals
  DROP COLUMN keys_proven,
  DROP COLUMN prev_pik_enc,
  DROP COLUMN prev_mak_enc,
  DROP COLUMN prev_tdk_enc;
