-- Up Migration
-- Reference data with history. A merchant's points rate and fee rate change from a business date on: each change
-- is a row here, and the rate in force on a date is the row with the latest effective_from on or before it (no row:
-- the merchant's rates have never changed). The merchant's own columns hold the rate in force today, which the debit
-- path reads; a change dated ahead is moved onto them when its date comes (src/admin/rates.ts). Clearing reads the
-- fee in force on each transaction's business date from here.
CREATE TABLE merchant_rates (
  merchant_id     text COLLATE "C" NOT NULL REFERENCES merchants (merchant_id),
  effective_from  date NOT NULL,
  points_per_yuan integer NOT NULL CHECK (points_per_yuan > 0),
  fee_rate_bp     integer NOT NULL CHECK (fee_rate_bp BETWEEN 0 AND 10000),
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, effective_from)
);

-- A terminal's status over time: enabled (active) or not, from a moment on, for the monthly usage fee by the days
-- a terminal was enabled. No row: the terminal has had its current status since it was created.
CREATE TABLE terminal_status_history (
  terminal_id  text COLLATE "C" NOT NULL REFERENCES terminals (terminal_id),
  effective_at timestamptz NOT NULL,
  status       text NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
  PRIMARY KEY (terminal_id, effective_at)
);

-- Down Migration
DROP TABLE terminal_status_history;
DROP TABLE merchant_rates;
