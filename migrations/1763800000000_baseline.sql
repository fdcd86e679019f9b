-- Up Migration
-- The points ledger's tables. One baseline for the schema as it stood when the project's migration chain was
-- squashed (nothing had been released). The SQL functions are not here: they live one to a file in
-- src/ledger/sql/ and the migrate step applies them after the migrations (src/db/migrate.ts). A later migration
-- changes tables only. migrations/SCHEMA.sql shows the result (`npm run schema`).
--
-- Card-scoped tables (cards, authorisations, ledger_txns, credits) all carry card_no, the distribution column if
-- the ledger is ever sharded (Citus); merchants and terminals are small reference tables. Points are integers; a
-- member balance can never go below zero (a CHECK, not only code).
--
-- Choices made for the debit's speed, each measured when it was made:
-- - Identifier and code columns compare byte-wise (COLLATE "C"): they hold digits and fixed ASCII codes, so order
--   and equality are as in any locale, but index descents and CHECKs never call the locale's strcoll. A comparison
--   with a parameter or a default-collation column takes the column's "C" (a non-default implicit collation wins).
-- - The single-column rules of the three tables a debit writes (cards, authorisations, ledger_txns) are domains,
--   named as the table CHECKs they were: Postgres prepares a table's CHECKs again for every statement that writes
--   it, and an UPDATE checks them all (every balance update ran the card number's and expiry's regular
--   expressions); a domain's rules are parsed once per connection and checked only where a value is stored.
--   Rules that span columns stay table CHECKs.
-- - As few indexes as the readers need: none on authorisations by card, by RRN (an RRN is made of its
--   authorisation's id: ps_rrn, ps_rrn_auth_id) or by (terminal, batch, trace) beyond the unique key, none on
--   ledger_txns by authorisation (`pointswitch audit` reads whole tables). An operator who needs one builds it
--   CONCURRENTLY without stopping the switch.
-- - cards leaves room on each page (fillfactor 80) so a balance update stays a HOT update (no index write).

CREATE DOMAIN ps_card_no AS text COLLATE "C" CONSTRAINT cards_card_no_check CHECK (VALUE ~ '^[0-9]{12,19}$');
CREATE DOMAIN ps_card_expiry AS text COLLATE "C" CONSTRAINT cards_expiry_check CHECK (VALUE ~ '^[0-9]{4}$');   -- YYMM
CREATE DOMAIN ps_card_status AS text COLLATE "C"
  CONSTRAINT cards_status_check CHECK (VALUE IN ('active', 'frozen', 'lost', 'expired', 'closed'));
CREATE DOMAIN ps_card_tier AS text COLLATE "C"
  CONSTRAINT cards_tier_check CHECK (VALUE IN ('diamond', 'gold', 'silver', 'vip', 'regular'));
CREATE DOMAIN ps_auth_kind AS text COLLATE "C" CONSTRAINT authorisations_kind_check CHECK (VALUE IN ('purchase', 'void', 'refund'));
CREATE DOMAIN ps_auth_state AS text COLLATE "C" CONSTRAINT authorisations_state_check
  CHECK (VALUE IN ('approved', 'declined', 'voided', 'reversed', 'partially_refunded', 'refunded', 'reversal_marker'));
CREATE DOMAIN ps_amount_fen AS bigint CONSTRAINT authorisations_amount_fen_check CHECK (VALUE >= 0);
CREATE DOMAIN ps_auth_points AS bigint CONSTRAINT authorisations_points_check CHECK (VALUE >= 0);
CREATE DOMAIN ps_txn_kind AS text COLLATE "C" CONSTRAINT ledger_txns_kind_check
  CHECK (VALUE IN ('opening', 'purchase', 'void', 'refund', 'reversal', 'credit', 'expiry'));
CREATE DOMAIN ps_counter_kind AS text COLLATE "C"
  CONSTRAINT ledger_txns_counter_kind_check CHECK (VALUE IN ('merchant', 'issuer_accrual', 'issuer_expiry'));
CREATE DOMAIN ps_member_points AS bigint CONSTRAINT ledger_txns_member_points_check CHECK (VALUE <> 0);

CREATE TABLE merchants (
  merchant_id     text COLLATE "C" PRIMARY KEY CHECK (length(merchant_id) = 15),
  name            text NOT NULL,
  status          text COLLATE "C" NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
  points_per_yuan integer NOT NULL DEFAULT 50 CHECK (points_per_yuan > 0),
  fee_rate_bp     integer NOT NULL DEFAULT 0 CHECK (fee_rate_bp BETWEEN 0 AND 10000),
  version         bigint NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- A terminal's working keys come in two sets. A sign-on needs no MAC (it carries none), so anyone who knows a
-- terminal's number can send one; were each to replace the keys, the real terminal's next requests would fail
-- their MAC until it signed on again. So:
-- - the current set (pik_enc, mak_enc, tdk_enc), issued by the last sign-on;
-- - the proven set (prev_*): the keys a MAC last verified under, kept after a sign-on until a MAC verifies under
--   the new set (keys_proven), then dropped.
-- A request whose MAC verifies under either set is accepted, and answered under the keys it used (Ledger.signOn).
CREATE TABLE terminals (
  terminal_id   text COLLATE "C" PRIMARY KEY CHECK (length(terminal_id) = 8),
  merchant_id   text COLLATE "C" NOT NULL REFERENCES merchants,
  status        text COLLATE "C" NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
  -- keys are stored encrypted under the KEK (AES-256-GCM: iv | tag | ciphertext), never in clear
  tmk_enc       bytea NOT NULL,
  pik_enc       bytea,
  mak_enc       bytea,
  tdk_enc       bytea,
  mac_algorithm text NOT NULL DEFAULT 'ecb' CHECK (mac_algorithm IN ('ecb', 'x919')),
  signed_on     boolean NOT NULL DEFAULT false,
  signed_on_at  timestamptz,
  batch_no      text COLLATE "C" NOT NULL DEFAULT '000001' CHECK (batch_no ~ '^[0-9]{6}$'),
  version       bigint NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  keys_proven   boolean NOT NULL DEFAULT true,
  prev_pik_enc  bytea,
  prev_mak_enc  bytea,
  prev_tdk_enc  bytea
);
CREATE INDEX terminals_merchant ON terminals (merchant_id);

CREATE TABLE cards (
  card_no          ps_card_no PRIMARY KEY,
  status           ps_card_status NOT NULL DEFAULT 'active',
  expiry           ps_card_expiry NOT NULL,
  tier             ps_card_tier NOT NULL DEFAULT 'regular',
  enrolled         boolean NOT NULL DEFAULT true,
  pin_verification text,                                                    -- HMAC of the PIN keyed by the KEK
  balance          bigint NOT NULL DEFAULT 0 CONSTRAINT cards_balance_not_negative CHECK (balance >= 0),
  version          bigint NOT NULL DEFAULT 1,                              -- bumped on every change: cache ordering
  created_at       timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 80);

-- One row per POS request that moves (or tried to move) points, under the terminal's idempotency key.
-- A reversal that arrives before its original leaves a row in state 'reversal_marker' under the original's key,
-- so the late original conflicts with it and is declined.
-- An approved purchase from the batch debit is stored as columns (rrn, auth_code, points, balance_after) with
-- response NULL, and ps_answer makes its answer from them; every other row stores its answer (response).
-- RRNs are unique because ids are: ps_rrn is the id in 12 digits, and a CHECK keeps ids below 10^12.
CREATE TABLE authorisations (
  auth_id          bigint PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
  terminal_id      text COLLATE "C" NOT NULL,
  batch_no         text COLLATE "C" NOT NULL,
  trace            text COLLATE "C" NOT NULL,
  business_date    date NOT NULL,
  kind             ps_auth_kind NOT NULL,
  card_no          text COLLATE "C" NOT NULL,
  merchant_id      text COLLATE "C",
  amount_fen       ps_amount_fen NOT NULL,
  points           ps_auth_points NOT NULL DEFAULT 0,
  points_per_yuan  integer,
  state            ps_auth_state NOT NULL,
  response_code    text COLLATE "C" NOT NULL,
  response         jsonb,
  rrn              text COLLATE "C",
  auth_code        text COLLATE "C",
  original_auth_id bigint REFERENCES authorisations,
  refunded_fen     bigint NOT NULL DEFAULT 0,
  refunded_points  bigint NOT NULL DEFAULT 0,
  settlement_id    bigint,
  created_at       timestamptz NOT NULL DEFAULT now(),
  balance_after    bigint,
  CONSTRAINT authorisations_key UNIQUE (terminal_id, batch_no, trace, business_date),
  CONSTRAINT authorisations_refund_within CHECK (refunded_fen >= 0 AND refunded_fen <= amount_fen AND refunded_points BETWEEN 0 AND points),
  CONSTRAINT authorisations_auth_id_rrn CHECK (auth_id < 1000000000000),
  CONSTRAINT authorisations_answer CHECK (
    response IS NOT NULL
    OR (kind = 'purchase' AND response_code = '00' AND rrn IS NOT NULL AND auth_code IS NOT NULL AND balance_after IS NOT NULL))
);
CREATE INDEX authorisations_original ON authorisations (original_auth_id) WHERE original_auth_id IS NOT NULL;

-- Double entry, one row a transaction: every txn moves the member's side by member_points and one counter side
-- (a merchant's per-card bucket, the issuer's accrual or expiry account) by -member_points, so a txn's two entries
-- sum to zero by construction. The merchant side is a per-card-bucket sub-account (merchant_id, bucket: ps_bucket),
-- appended, never a hot row; netted at clearing.
CREATE TABLE ledger_txns (
  txn_id        bigint PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
  card_no       text COLLATE "C" NOT NULL,
  kind          ps_txn_kind NOT NULL,
  auth_id       bigint,                               -- the authorisation it serves (reversal: the reversed one)
  created_at    timestamptz NOT NULL DEFAULT now(),
  member_points ps_member_points NOT NULL,
  counter_kind  ps_counter_kind NOT NULL,
  merchant_id   text COLLATE "C",
  bucket        smallint,
  CONSTRAINT ledger_txns_merchant CHECK ((counter_kind = 'merchant') = (merchant_id IS NOT NULL AND bucket IS NOT NULL))
);

-- The two sides of each txn as the two entries they are (entry_id txn_id*2 for the member's, txn_id*2+1 for the
-- other), for the readers that think in entries (the audit, clearing's GROUP BY).
CREATE VIEW ledger_entries AS
  SELECT txn_id * 2 AS entry_id, txn_id, card_no::text COLLATE "C" AS card_no, 'member'::text COLLATE "C" AS account_kind,
         NULL::text COLLATE "C" AS merchant_id, NULL::smallint AS bucket, member_points::bigint AS points
  FROM ledger_txns
  UNION ALL
  SELECT txn_id * 2 + 1, txn_id, card_no::text COLLATE "C", counter_kind::text COLLATE "C", merchant_id, bucket, -member_points::bigint
  FROM ledger_txns;

-- Accrual feed from the issuer's billing system, idempotent by its key.
CREATE TABLE credits (
  idempotency_key text PRIMARY KEY,
  card_no         text NOT NULL,
  points          bigint NOT NULL CHECK (points > 0),
  reason          text,
  txn_id          bigint NOT NULL REFERENCES ledger_txns,
  balance_after   bigint NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE settlements (
  settlement_id      bigint PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
  terminal_id        text NOT NULL,
  batch_no           text NOT NULL,
  debit_fen          bigint NOT NULL,
  debit_count        integer NOT NULL,
  credit_fen         bigint NOT NULL,
  credit_count       integer NOT NULL,
  terminal_totals    jsonb NOT NULL,
  balanced           boolean NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE batch_uploads (
  terminal_id   text NOT NULL,
  batch_no      text NOT NULL,
  trace         text NOT NULL,
  business_date date NOT NULL,
  card_no       text NOT NULL,
  amount_fen    bigint NOT NULL,
  detail        jsonb NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (terminal_id, batch_no, trace, business_date)
);

-- Decline kind -> ISO response code. Written by the ledger at start from responseCodeFor (src/ledger/decline.ts),
-- the one place the mapping lives, so rows stored by SQL carry the same code the switch sends.
CREATE TABLE response_codes (
  kind text PRIMARY KEY,
  code text NOT NULL CHECK (length(code) = 2)
);

-- Down Migration
-- The functions first (they name the tables' row types); the migrate step makes them again on the way up.
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'ps\_%' LOOP
    EXECUTE format('DROP FUNCTION %s', f);
  END LOOP;
END $$;
DROP VIEW IF EXISTS ledger_entries;
DROP TABLE IF EXISTS response_codes, batch_uploads, settlements, credits, ledger_txns, authorisations, cards, terminals, merchants;
DROP DOMAIN IF EXISTS ps_card_no, ps_card_expiry, ps_card_status, ps_card_tier, ps_auth_kind, ps_auth_state, ps_amount_fen,
  ps_auth_points, ps_txn_kind, ps_counter_kind, ps_member_points;
