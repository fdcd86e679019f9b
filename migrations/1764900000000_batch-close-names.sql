-- Up Migration
-- The terminal's 0500 batch close was called "settlement", a word kept for the monthly clearing and merchant
-- settlement: its table and columns take the batch-close name.
ALTER TABLE settlements RENAME TO batch_closes;
ALTER TABLE batch_closes RENAME COLUMN settlement_id TO batch_close_id;
ALTER TABLE batch_closes RENAME CONSTRAINT settlements_pkey TO batch_closes_pkey;
ALTER SEQUENCE settlements_settlement_id_seq RENAME TO batch_closes_batch_close_id_seq;
ALTER TABLE authorisations RENAME COLUMN settlement_id TO batch_close_id;

-- Down Migration
ALTER TABLE authorisations RENAME COLUMN batch_close_id TO settlement_id;
ALTER SEQUENCE batch_closes_batch_close_id_seq RENAME TO settlements_settlement_id_seq;
ALTER TABLE batch_closes RENAME CONSTRAINT batch_closes_pkey TO settlements_pkey;
ALTER TABLE batch_closes RENAME COLUMN batch_close_id TO settlement_id;
ALTER TABLE batch_closes RENAME TO settlements;
