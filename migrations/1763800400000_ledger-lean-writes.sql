-- Up Migration
-- Fewer and cheaper writes per debit (measured on the batch debit: index inserts and CHECKs were most of it).
-- 1. Identifier and code columns compare byte-wise (COLLATE "C"). They hold digits and fixed ASCII codes, so
--    the order and equality are the same as before, but every index descent and every CHECK (status IN …)
--    stops calling the locale's strcoll. A comparison with a parameter or a default-collation column takes
--    the column's "C" (a non-default implicit collation wins).
-- 2. ledger_entries: one index instead of three. The primary key becomes (txn_id, entry_id), which also
--    serves lookups by txn; the index by card is dropped (nothing reads entries by card; a member's history
--    is read from authorisations and credits, both indexed by card, and the audit scans).
ALTER TABLE terminals DROP CONSTRAINT terminals_merchant_id_fkey;

ALTER TABLE merchants ALTER COLUMN merchant_id TYPE text COLLATE "C", ALTER COLUMN status TYPE text COLLATE "C";
ALTER TABLE terminals ALTER COLUMN terminal_id TYPE text COLLATE "C", ALTER COLUMN merchant_id TYPE text COLLATE "C",
  ALTER COLUMN status TYPE text COLLATE "C", ALTER COLUMN batch_no TYPE text COLLATE "C";
ALTER TABLE cards ALTER COLUMN card_no TYPE text COLLATE "C", ALTER COLUMN status TYPE text COLLATE "C",
  ALTER COLUMN expiry TYPE text COLLATE "C", ALTER COLUMN tier TYPE text COLLATE "C";
ALTER TABLE authorisations ALTER COLUMN terminal_id TYPE text COLLATE "C", ALTER COLUMN batch_no TYPE text COLLATE "C",
  ALTER COLUMN trace TYPE text COLLATE "C", ALTER COLUMN kind TYPE text COLLATE "C", ALTER COLUMN card_no TYPE text COLLATE "C",
  ALTER COLUMN merchant_id TYPE text COLLATE "C", ALTER COLUMN state TYPE text COLLATE "C",
  ALTER COLUMN response_code TYPE text COLLATE "C", ALTER COLUMN rrn TYPE text COLLATE "C", ALTER COLUMN auth_code TYPE text COLLATE "C";
ALTER TABLE ledger_txns ALTER COLUMN card_no TYPE text COLLATE "C", ALTER COLUMN kind TYPE text COLLATE "C";
ALTER TABLE ledger_entries ALTER COLUMN card_no TYPE text COLLATE "C", ALTER COLUMN account_kind TYPE text COLLATE "C",
  ALTER COLUMN merchant_id TYPE text COLLATE "C";

ALTER TABLE terminals ADD CONSTRAINT terminals_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants;

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_pkey;
DROP INDEX ledger_entries_txn;
DROP INDEX ledger_entries_card;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_pkey PRIMARY KEY (txn_id, entry_id);

-- Down Migration
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_pkey;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_pkey PRIMARY KEY (entry_id);
CREATE INDEX ledger_entries_txn ON ledger_entries (txn_id);
CREATE INDEX ledger_entries_card ON ledger_entries (card_no);

ALTER TABLE terminals DROP CONSTRAINT terminals_merchant_id_fkey;
ALTER TABLE merchants ALTER COLUMN merchant_id TYPE text COLLATE "default", ALTER COLUMN status TYPE text COLLATE "default";
ALTER TABLE terminals ALTER COLUMN terminal_id TYPE text COLLATE "default", ALTER COLUMN merchant_id TYPE text COLLATE "default",
  ALTER COLUMN status TYPE text COLLATE "default", ALTER COLUMN batch_no TYPE text COLLATE "default";
ALTER TABLE cards ALTER COLUMN card_no TYPE text COLLATE "default", ALTER COLUMN status TYPE text COLLATE "default",
  ALTER COLUMN expiry TYPE text COLLATE "default", ALTER COLUMN tier TYPE text COLLATE "default";
ALTER TABLE authorisations ALTER COLUMN terminal_id TYPE text COLLATE "default", ALTER COLUMN batch_no TYPE text COLLATE "default",
  ALTER COLUMN trace TYPE text COLLATE "default", ALTER COLUMN kind TYPE text COLLATE "default", ALTER COLUMN card_no TYPE text COLLATE "default",
  ALTER COLUMN merchant_id TYPE text COLLATE "default", ALTER COLUMN state TYPE text COLLATE "default",
  ALTER COLUMN response_code TYPE text COLLATE "default", ALTER COLUMN rrn TYPE text COLLATE "default", ALTER COLUMN auth_code TYPE text COLLATE "default";
ALTER TABLE ledger_txns ALTER COLUMN card_no TYPE text COLLATE "default", ALTER COLUMN kind TYPE text COLLATE "default";
ALTER TABLE ledger_entries ALTER COLUMN card_no TYPE text COLLATE "default", ALTER COLUMN account_kind TYPE text COLLATE "default",
  ALTER COLUMN merchant_id TYPE text COLLATE "default";
ALTER TABLE terminals ADD CONSTRAINT terminals_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants;
