-- A chunk of accrual-feed lines (parallel arrays, one element a line), judged and credited in two statements:
-- the cards are locked first in card order (so a chunk and a debit batch never deadlock on them), then one
-- set-based statement judges every line and books the new ones. Per line it returns:
--   credited          booked now: a credits row, a ledger txn (member +points, issuer_accrual -points), the balance
--   already-credited  the key is stored with the same card, points, amount and qualifying flag (a re-sent line)
--   conflict          the key is stored (or came earlier in this chunk) with something different
--   unknown-card      no such card
-- balance_after and card_version come with credited lines (the card's state after this chunk's lines up to it).
-- The statement reads every line's row once and joins nothing it wrote: the planner, which takes an unnested array
-- for ten rows, never loops over one CTE per row of another. A key stored meanwhile by a plain ps_credit fails the
-- chunk with a unique violation (credits_pkey), and the caller runs it again. Called by AccrualBook
-- (src/ledger/accruals.ts).
CREATE OR REPLACE FUNCTION ps_accrue_set(p_feed bigint, p_line integer[], p_key text[], p_card text[], p_points bigint[],
                                         p_amount bigint[], p_qual boolean[])
RETURNS TABLE (line_no integer, outcome text, balance_after bigint, card_version bigint)
LANGUAGE plpgsql AS $$
BEGIN
  -- One chunk at a time, whichever feed it is from: a key is then never judged new by two chunks at once (the other
  -- waits here, and its next statement sees this one's lines).
  PERFORM pg_advisory_xact_lock(hashtext('ps_accrue_set'));
  PERFORM 1 FROM cards WHERE card_no = ANY (p_card) ORDER BY card_no FOR UPDATE;
  RETURN QUERY
  WITH input AS (
    -- Each line beside the first line of its key in this chunk (itself, for most).
    SELECT i.*, row_number() OVER w AS nth, first_value(ROW(i.card_no, i.points, i.amount_fen, i.qualifying)::text) OVER w AS first_line
    FROM unnest(p_line, p_key, p_card, p_points, p_amount, p_qual) AS i(line_no, key, card_no, points, amount_fen, qualifying)
    WINDOW w AS (PARTITION BY i.key ORDER BY i.line_no)
  ), judged AS (
    SELECT i.line_no, i.key, i.card_no, i.points, i.amount_fen, i.qualifying, c.balance AS card_balance, c.version AS card_version_was,
      CASE
        WHEN i.nth > 1 THEN
          CASE WHEN i.first_line = ROW(i.card_no, i.points, i.amount_fen, i.qualifying)::text THEN 'already-credited' ELSE 'conflict' END
        WHEN cr.idempotency_key IS NOT NULL THEN
          CASE WHEN (cr.card_no, cr.points, cr.amount_fen, cr.qualifying) IS NOT DISTINCT FROM (i.card_no, i.points, i.amount_fen, i.qualifying)
               THEN 'already-credited' ELSE 'conflict' END
        WHEN c.card_no IS NULL THEN 'unknown-card'
        ELSE 'credited'
      END AS verdict
    FROM input i
    LEFT JOIN credits cr ON cr.idempotency_key = i.key
    LEFT JOIN cards c ON c.card_no = i.card_no
  ), lines AS MATERIALIZED (
    SELECT j.*,
           CASE WHEN j.verdict = 'credited' THEN nextval(pg_get_serial_sequence('ledger_txns', 'txn_id')) END AS txn_id,
           CASE WHEN j.verdict = 'credited' THEN
             (j.card_balance + sum(j.points) FILTER (WHERE j.verdict = 'credited') OVER (PARTITION BY j.card_no ORDER BY j.line_no))::bigint END AS balance_then
    FROM judged j
  ), stored AS (
    INSERT INTO credits (idempotency_key, card_no, points, reason, txn_id, balance_after, amount_fen, qualifying, feed_id, line_no)
    SELECT l.key, l.card_no, l.points, 'accrual', l.txn_id, l.balance_then, l.amount_fen, l.qualifying, p_feed, l.line_no
    FROM lines l WHERE l.verdict = 'credited'
  ), booked AS (
    INSERT INTO ledger_txns (txn_id, card_no, kind, member_points, counter_kind)
    SELECT l.txn_id, l.card_no, 'credit', l.points, 'issuer_accrual' FROM lines l WHERE l.verdict = 'credited'
  ), moved AS (
    UPDATE cards c SET balance = c.balance + t.points, version = c.version + 1
    FROM (SELECT l.card_no, sum(l.points) AS points FROM lines l WHERE l.verdict = 'credited' GROUP BY l.card_no) t
    WHERE c.card_no = t.card_no
  )
  -- A card is updated once in the statement, so its version after it is the one read plus one.
  SELECT l.line_no, l.verdict::text, l.balance_then, CASE WHEN l.verdict = 'credited' THEN (l.card_version_was + 1)::bigint END
  FROM lines l
  ORDER BY l.line_no;
END $$;
