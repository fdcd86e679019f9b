-- Up Migration
-- The accrual feed from the issuer's billing system. Each credited line is a row of credits (idempotent by its
-- key), now saying which feed and line brought it, the billed amount it was earned on (when it came as an amount)
-- and whether its points qualify (count toward enrolment and tiers). Lines that credited nothing are kept in
-- accrual_exceptions with their outcome, so a feed's result can be given again line by line.
ALTER TABLE credits
  ADD COLUMN amount_fen bigint CHECK (amount_fen >= 0),
  ADD COLUMN qualifying boolean NOT NULL DEFAULT false,
  ADD COLUMN feed_id bigint,
  ADD COLUMN line_no integer;

CREATE TABLE accrual_feeds (
  feed_id         bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  received_at     timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  key_id          bigint REFERENCES api_keys (key_id),
  actor           text NOT NULL,
  source          text NOT NULL CHECK (source IN ('json', 'csv')),
  name            text,
  state           text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
  lines           integer NOT NULL DEFAULT 0,
  credited        integer NOT NULL DEFAULT 0,
  already         integer NOT NULL DEFAULT 0,
  conflicts       integer NOT NULL DEFAULT 0,
  bad             integer NOT NULL DEFAULT 0,
  unknown_cards   integer NOT NULL DEFAULT 0,
  points_credited bigint NOT NULL DEFAULT 0,
  failure         text
);
ALTER TABLE credits ADD CONSTRAINT credits_feed FOREIGN KEY (feed_id) REFERENCES accrual_feeds (feed_id);
CREATE INDEX credits_feed_line ON credits (feed_id, line_no) WHERE feed_id IS NOT NULL;

CREATE TABLE accrual_exceptions (
  feed_id         bigint NOT NULL REFERENCES accrual_feeds (feed_id),
  line_no         integer NOT NULL,
  idempotency_key text,
  card_no         text,
  points          bigint,
  outcome         text NOT NULL CHECK (outcome IN ('already-credited', 'conflict', 'bad-line', 'unknown-card')),
  reason          text,
  PRIMARY KEY (feed_id, line_no)
);

-- Down Migration
DROP TABLE accrual_exceptions;
DROP INDEX credits_feed_line;
ALTER TABLE credits DROP CONSTRAINT credits_feed;
DROP TABLE accrual_feeds;
ALTER TABLE credits DROP COLUMN amount_fen, DROP COLUMN qualifying, DROP COLUMN feed_id, DROP COLUMN line_no;
