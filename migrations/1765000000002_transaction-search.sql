-- Up Migration
-- Finding a transaction (GET /transactions): newest first by card, by merchant, by date, and one transaction's
-- ledger rows. A card's or a merchant's transactions are read through their own index, newest first, never by
-- scanning authorisations; a date range through a BRIN index (authorisations are written in date order, so a
-- block range summary is tiny and costs a debit nearly nothing); a terminal's through the idempotency key's index.
-- Each b-tree is one more index entry per authorisation or ledger row on the debit path: bench:switch measures it.
CREATE INDEX authorisations_card ON authorisations (card_no, auth_id DESC);
CREATE INDEX authorisations_merchant ON authorisations (merchant_id, auth_id DESC) WHERE merchant_id IS NOT NULL;
CREATE INDEX authorisations_business_date ON authorisations USING brin (business_date);
CREATE INDEX ledger_txns_auth ON ledger_txns (auth_id) WHERE auth_id IS NOT NULL;

-- Down Migration
DROP INDEX ledger_txns_auth;
DROP INDEX authorisations_business_date;
DROP INDEX authorisations_merchant;
DROP INDEX authorisations_card;
