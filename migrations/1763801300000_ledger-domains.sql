-- Up Migration
-- The single-column rules of the three tables a debit writes (cards, authorisations, ledger_txns) become domains,
-- with the same constraint names; the rules that span columns stay table CHECKs (a card's balance >= 0, refunds
-- within the original, RRN-sized ids, an answerable authorisation, a merchant side with its merchant).
-- Why: Postgres reads a table's CHECK constraints from their stored text and prepares them again for every
-- statement that writes the table (stringToNode and ExecPrepareExpr were 7 % of a 20-debit batch call in a perf
-- profile), and an UPDATE checks all of them, so every balance update ran the two regular expressions on the card
-- number and expiry it did not change. A domain's rules are parsed once per connection (the type cache) and are
-- checked only where a value is stored into the column. Measured with pgbench on the batch debit alone, the two
-- schemas swapped in turns on the bench database: -8.7, -4.0 and -4.5 % time a call.
-- The domains take their constraints NOT VALID, added after the columns changed type: that changes no row and
-- scans no table (a column changing to a domain without constraints over its own type is not checked), so the
-- migration is instant on any size of ledger. The rows already there were checked by the table constraints these
-- replace, which were valid; new and changed values are checked as before. (ALTER DOMAIN … VALIDATE CONSTRAINT
-- marks them valid, with a scan, whenever wanted.)
CREATE DOMAIN ps_card_no AS text COLLATE "C";
CREATE DOMAIN ps_card_expiry AS text COLLATE "C";
CREATE DOMAIN ps_card_status AS text COLLATE "C";
CREATE DOMAIN ps_card_tier AS text COLLATE "C";
CREATE DOMAIN ps_auth_kind AS text COLLATE "C";
CREATE DOMAIN ps_auth_state AS text COLLATE "C";
CREATE DOMAIN ps_amount_fen AS bigint;
CREATE DOMAIN ps_auth_points AS bigint;
CREATE DOMAIN ps_txn_kind AS text COLLATE "C";
CREATE DOMAIN ps_counter_kind AS text COLLATE "C";
CREATE DOMAIN ps_member_points AS bigint;

DROP VIEW ledger_entries;   -- a view pins its columns' types; made again below, the same
ALTER TABLE cards
  DROP CONSTRAINT cards_card_no_check, DROP CONSTRAINT cards_expiry_check,
  DROP CONSTRAINT cards_status_check, DROP CONSTRAINT cards_tier_check,
  ALTER COLUMN card_no TYPE ps_card_no COLLATE "C", ALTER COLUMN expiry TYPE ps_card_expiry COLLATE "C",
  ALTER COLUMN status TYPE ps_card_status COLLATE "C", ALTER COLUMN tier TYPE ps_card_tier COLLATE "C";
ALTER TABLE authorisations
  DROP CONSTRAINT authorisations_kind_check, DROP CONSTRAINT authorisations_state_check,
  DROP CONSTRAINT authorisations_amount_fen_check, DROP CONSTRAINT authorisations_points_check,
  ALTER COLUMN kind TYPE ps_auth_kind COLLATE "C", ALTER COLUMN state TYPE ps_auth_state COLLATE "C",
  ALTER COLUMN amount_fen TYPE ps_amount_fen, ALTER COLUMN points TYPE ps_auth_points;
ALTER TABLE ledger_txns
  DROP CONSTRAINT ledger_txns_kind_check, DROP CONSTRAINT ledger_txns_counter_kind_check,
  DROP CONSTRAINT ledger_txns_member_points_check,
  ALTER COLUMN kind TYPE ps_txn_kind COLLATE "C", ALTER COLUMN counter_kind TYPE ps_counter_kind COLLATE "C",
  ALTER COLUMN member_points TYPE ps_member_points;
CREATE VIEW ledger_entries AS
  SELECT txn_id * 2 AS entry_id, txn_id, card_no::text COLLATE "C" AS card_no, 'member'::text COLLATE "C" AS account_kind,
         NULL::text COLLATE "C" AS merchant_id, NULL::smallint AS bucket, member_points::bigint AS points
  FROM ledger_txns
  UNION ALL
  SELECT txn_id * 2 + 1, txn_id, card_no::text COLLATE "C", counter_kind::text COLLATE "C", merchant_id, bucket, -member_points::bigint
  FROM ledger_txns;

ALTER DOMAIN ps_card_no ADD CONSTRAINT cards_card_no_check CHECK (VALUE ~ '^[0-9]{12,19}$') NOT VALID;
ALTER DOMAIN ps_card_expiry ADD CONSTRAINT cards_expiry_check CHECK (VALUE ~ '^[0-9]{4}$') NOT VALID;
ALTER DOMAIN ps_card_status ADD CONSTRAINT cards_status_check CHECK (VALUE IN ('active', 'frozen', 'lost', 'expired', 'closed')) NOT VALID;
ALTER DOMAIN ps_card_tier ADD CONSTRAINT cards_tier_check CHECK (VALUE IN ('diamond', 'gold', 'silver', 'vip', 'regular')) NOT VALID;
ALTER DOMAIN ps_auth_kind ADD CONSTRAINT authorisations_kind_check CHECK (VALUE IN ('purchase', 'void', 'refund')) NOT VALID;
ALTER DOMAIN ps_auth_state ADD CONSTRAINT authorisations_state_check
  CHECK (VALUE IN ('approved', 'declined', 'voided', 'reversed', 'partially_refunded', 'refunded', 'reversal_marker')) NOT VALID;
ALTER DOMAIN ps_amount_fen ADD CONSTRAINT authorisations_amount_fen_check CHECK (VALUE >= 0) NOT VALID;
ALTER DOMAIN ps_auth_points ADD CONSTRAINT authorisations_points_check CHECK (VALUE >= 0) NOT VALID;
ALTER DOMAIN ps_txn_kind ADD CONSTRAINT ledger_txns_kind_check
  CHECK (VALUE IN ('opening', 'purchase', 'void', 'refund', 'reversal', 'credit', 'expiry')) NOT VALID;
ALTER DOMAIN ps_counter_kind ADD CONSTRAINT ledger_txns_counter_kind_check CHECK (VALUE IN ('merchant', 'issuer_accrual', 'issuer_expiry')) NOT VALID;
ALTER DOMAIN ps_member_points ADD CONSTRAINT ledger_txns_member_points_check CHECK (VALUE <> 0) NOT VALID;

-- Down Migration
DROP VIEW ledger_entries;
ALTER TABLE cards
  ALTER COLUMN card_no TYPE text COLLATE "C", ALTER COLUMN expiry TYPE text COLLATE "C",
  ALTER COLUMN status TYPE text COLLATE "C", ALTER COLUMN tier TYPE text COLLATE "C",
  ADD CONSTRAINT cards_card_no_check CHECK (card_no ~ '^[0-9]{12,19}$'),
  ADD CONSTRAINT cards_expiry_check CHECK (expiry ~ '^[0-9]{4}$'),
  ADD CONSTRAINT cards_status_check CHECK (status IN ('active', 'frozen', 'lost', 'expired', 'closed')),
  ADD CONSTRAINT cards_tier_check CHECK (tier IN ('diamond', 'gold', 'silver', 'vip', 'regular'));
ALTER TABLE authorisations
  ALTER COLUMN kind TYPE text COLLATE "C", ALTER COLUMN state TYPE text COLLATE "C",
  ALTER COLUMN amount_fen TYPE bigint, ALTER COLUMN points TYPE bigint,
  ADD CONSTRAINT authorisations_kind_check CHECK (kind IN ('purchase', 'void', 'refund')),
  ADD CONSTRAINT authorisations_state_check
    CHECK (state IN ('approved', 'declined', 'voided', 'reversed', 'partially_refunded', 'refunded', 'reversal_marker')),
  ADD CONSTRAINT authorisations_amount_fen_check CHECK (amount_fen >= 0),
  ADD CONSTRAINT authorisations_points_check CHECK (points >= 0);
ALTER TABLE ledger_txns
  ALTER COLUMN kind TYPE text COLLATE "C", ALTER COLUMN counter_kind TYPE text COLLATE "C",
  ALTER COLUMN member_points TYPE bigint,
  ADD CONSTRAINT ledger_txns_kind_check CHECK (kind IN ('opening', 'purchase', 'void', 'refund', 'reversal', 'credit', 'expiry')),
  ADD CONSTRAINT ledger_txns_counter_kind_check CHECK (counter_kind IN ('merchant', 'issuer_accrual', 'issuer_expiry')),
  ADD CONSTRAINT ledger_txns_member_points_check CHECK (member_points <> 0);
CREATE VIEW ledger_entries AS
  SELECT txn_id * 2 AS entry_id, txn_id, card_no, 'member'::text COLLATE "C" AS account_kind, NULL::text COLLATE "C" AS merchant_id,
         NULL::smallint AS bucket, member_points AS points
  FROM ledger_txns
  UNION ALL
  SELECT txn_id * 2 + 1, txn_id, card_no, counter_kind, merchant_id, bucket, -member_points
  FROM ledger_txns;
DROP DOMAIN ps_card_no, ps_card_expiry, ps_card_status, ps_card_tier, ps_auth_kind, ps_auth_state, ps_amount_fen, ps_auth_points,
  ps_txn_kind, ps_counter_kind, ps_member_points;
