-- A chunk of accrual-feed lines (parallel arrays, one element a line), judged and credited in two statements:
-- the cards are locked first in card order (so a chunk and a debit batch never deadlock on them),
-- then one set-based statement judges every line and books the new ones. Per line it returns:
--   credited          booked now: a credits row, a ledger txn (member +points, issuer_accrual -points), the balance
--   already-credited  the key is stored with the same card, points, amount and qualifying flag (a re-sent line)
--   conflict          the key is stored (or came earlier in this chunk) with something different
--   unknown-card      no such card
--   retry             another transaction stored the key meanwhile: the caller runs the line again
-- balance_after and card_version come with credited lines (the card's state after this chunk's lines up to it).
CREATE OR REPLACE FUNCTION ps_accrue_set(p_feed bigint, p_line integer[], p_key text[], p_card text[], p_points bigint[],
                                         p_amount bigint[], p_qual boolean[])
RETURNS TABLE (line_no integer, outcome text, balance_after bigint, card_version bigint)
LANGUAGE plpgsql AS $$
BEGIN
  -- One chunk at a time, whichever feed it is from: a key is then never judged new by two chunks at once (the other
  -- waits here, and its next statement sees this one's lines). A line a plain ps_credit stored meanwhile still
  -- comes back retry.
  PERFORM pg_advisory_xact_lock(hashtext('ps_accrue_set'));
  PERFORM 1 FROM cards WHERE card_no = ANY (p_card) ORDER BY card_no FOR UPDATE;
  RETURN QUERY
  WITH input AS (
    SELECT * FROM unnest(p_line, p_key, p_card, p_points, p_amount, p_qual) AS i(line_no, key, card_no, points, amount_fen, qualifying)
  ), judged AS (
    SELECT i.*, c.balance AS card_balance, c.version AS card_version_was,
      CASE
        WHEN first.line_no <> i.line_no THEN
          CASE WHEN (first.card_no, first.points, first.amount_fen, first.qualifying) IS NOT DISTINCT FROM (i.card_no, i.points, i.amount_fen, i.qualifying)
               THEN 'already-credited' ELSE 'conflict' END
        WHEN cr.idempotency_key IS NOT NULL THEN
          CASE WHEN (cr.card_no, cr.points, cr.amount_fen, cr.qualifying) IS NOT DISTINCT FROM (i.card_no, i.points, i.amount_fen, i.qualifying)
               THEN 'already-credited' ELSE 'conflict' END
        WHEN c.card_no IS NULL THEN 'unknown-card'
        ELSE 'credited'
      END AS verdict
    FROM input i
    JOIN LATERAL (SELECT f.line_no, f.card_no, f.points, f.amount_fen, f.qualifying FROM input f WHERE f.key = i.key ORDER BY f.line_no LIMIT 1) first ON true
    LEFT JOIN credits cr ON cr.idempotency_key = i.key
    LEFT JOIN cards c ON c.card_no = i.card_no
  ), fresh AS (
    SELECT j.*, nextval(pg_get_serial_sequence('ledger_txns', 'txn_id')) AS txn_id,
           (j.card_balance + sum(j.points) OVER (PARTITION BY j.card_no ORDER BY j.line_no))::bigint AS balance_then,
           j.card_version_was + 1 AS version_then
    FROM judged j WHERE j.verdict = 'credited'
  ), stored AS (
    INSERT INTO credits (idempotency_key, card_no, points, reason, txn_id, balance_after, amount_fen, qualifying, feed_id, line_no)
    SELECT f.key, f.card_no, f.points, 'accrual', f.txn_id, f.balance_then, f.amount_fen, f.qualifying, p_feed, f.line_no FROM fresh f
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING credits.idempotency_key, credits.card_no, credits.points, credits.txn_id
  ), booked AS (
    INSERT INTO ledger_txns (txn_id, card_no, kind, member_points, counter_kind)
    SELECT s.txn_id, s.card_no, 'credit', s.points, 'issuer_accrual' FROM stored s
    RETURNING ledger_txns.card_no
  ), moved AS (
    UPDATE cards c SET balance = c.balance + t.points, version = c.version + 1
    FROM (SELECT s.card_no, sum(s.points) AS points FROM stored s GROUP BY s.card_no) t
    WHERE c.card_no = t.card_no
    RETURNING c.card_no, c.balance, c.version
  )
  SELECT j.line_no,
         (CASE WHEN j.verdict <> 'credited' THEN j.verdict WHEN s.idempotency_key IS NULL THEN 'retry' ELSE 'credited' END)::text,
         f.balance_then, m.version::bigint
  FROM judged j
  LEFT JOIN fresh f ON f.line_no = j.line_no
  LEFT JOIN stored s ON s.idempotency_key = f.key AND f.verdict = 'credited'
  LEFT JOIN moved m ON m.card_no = f.card_no
  ORDER BY j.line_no;
END $$;
