-- Up Migration
-- One index insert less per purchase, void, refund and reversal: ledger_txns (auth_id) was read by nothing on a
-- request's path (every function finds its rows through authorisations), only by `pointswitch audit`, whose
-- joins of authorisations with ledger_txns read both tables whole (hash joins), index or not.
DROP INDEX ledger_txns_auth;

-- Down Migration
CREATE INDEX ledger_txns_auth ON ledger_txns (auth_id) WHERE auth_id IS NOT NULL;
