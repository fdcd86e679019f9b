-- The batch debit, the common path: a batch of purchases of distinct cards as one set-based statement in the
-- caller's transaction. Cards are locked in card order (concurrent batches never deadlock) and each item is judged
-- against its card's current balance (ps_card_decline, ps_points); approvals are stored as columns (ps_answer makes
-- their answer) and posted one ledger row each. A plain INSERT: a key that exists or that a concurrent transaction
-- holds fails the whole statement with a unique violation on authorisations_key, and the ledger runs the batch again
-- through ps_purchase_set_keyed, which answers the stored keys first and sends the rest here again.
-- Called by the ledger (src/ledger/debits.ts). A batch with a card twice goes to ps_purchase_each.
-- enable_seqscan off: the plan is cached per session, and one made while the tables were nearly empty would scan
-- authorisations whole once it is big; every lookup is by a unique key. force_generic_plan: the custom plans look
-- cheaper for small batches but re-planning each call cost more than it saved.
CREATE OR REPLACE FUNCTION ps_purchase_set(p_terminal text[], p_batch text[], p_trace text[], p_date date[], p_merchant text[], p_card text[], p_amount bigint[], p_pvv text[])
 RETURNS TABLE(answer jsonb, rrn text, auth_code text, points bigint, card_version bigint, card_balance bigint)
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
#variable_conflict use_column
-- (rrn, auth_code and points are columns too: in the queries below those names mean the columns)
BEGIN
  IF (SELECT count(DISTINCT x) FROM unnest(p_card) x) <> cardinality(p_card) THEN
    RETURN QUERY SELECT * FROM ps_purchase_each(p_terminal, p_batch, p_trace, p_date, p_merchant, p_card, p_amount, p_pvv);
    RETURN;
  END IF;
  RETURN QUERY
  WITH j AS MATERIALIZED (
    SELECT u.*, nextval('authorisations_auth_id_seq') AS id, m.points_per_yuan AS rate, (c.c).balance, (c.c).version,
           CASE WHEN m.points_per_yuan IS NULL OR u.amount IS NULL OR u.amount <= 0 THEN 0
                ELSE ps_points(u.amount, m.points_per_yuan) END AS pts,
           CASE
             WHEN u.amount IS NULL OR u.amount <= 0 THEN 'invalid-amount'
             WHEN m.points_per_yuan IS NULL THEN 'invalid-merchant'
             ELSE coalesce(cd.kind, CASE WHEN (c.c).balance < ps_points(u.amount, m.points_per_yuan) THEN 'insufficient-points' END)
           END AS kind
    FROM (SELECT * FROM unnest(p_terminal, p_batch, p_trace, p_date, p_merchant, p_card, p_amount, p_pvv)
                   WITH ORDINALITY AS u(t, b, tr, d, merchant, card, amount, pvv, i)
          ORDER BY card) u                                  -- lock the cards in card order: no deadlocks
    LEFT JOIN merchants m ON m.merchant_id = u.merchant AND m.status = 'active'
    -- FOR UPDATE: waits for a concurrent writer of the card and then reads its committed row, so every
    -- item is judged against the current balance, and the row stays ours until commit.
    LEFT JOIN LATERAL (SELECT c FROM cards c WHERE c.card_no = u.card FOR UPDATE) c ON true
    -- the card rules every debit shares (unknown, lost, frozen, closed, expired, not enrolled, PIN)
    CROSS JOIN LATERAL (SELECT coalesce(ps_date_decline(u.d), ps_card_decline(c.c, u.d, u.pvv)) AS kind) cd
  ), ins AS (
    -- invalid amount / merchant are answered, not stored (as on the single path). An approval is stored as its
    -- columns (ps_answer makes its answer); a decline with its answer. A plain insert: a key that exists (a
    -- retransmission, a reversal marker) or that a concurrent transaction holds fails the whole statement with a
    -- unique violation on authorisations_key, and the caller runs the batch again through ps_purchase_set_keyed.
    INSERT INTO authorisations (auth_id, terminal_id, batch_no, trace, business_date, kind, card_no, merchant_id,
                                amount_fen, points, points_per_yuan, state, response_code, response, rrn, auth_code,
                                balance_after)
    SELECT j.id, j.t, j.b, j.tr, j.d, 'purchase', j.card, j.merchant, j.amount,
           CASE WHEN j.kind IS NULL THEN j.pts ELSE 0 END, j.rate,
           CASE WHEN j.kind IS NULL THEN 'approved' ELSE 'declined' END,
           CASE WHEN j.kind IS NULL THEN '00'
                ELSE ps_kind_code(j.kind) END,
           CASE WHEN j.kind IS NULL THEN NULL
                WHEN j.kind = 'insufficient-points'
                  THEN jsonb_build_object('ok', false, 'decline', jsonb_build_object('kind', j.kind, 'balancePoints', j.balance))
                ELSE jsonb_build_object('ok', false, 'decline', jsonb_build_object('kind', j.kind)) END,
           CASE WHEN j.kind IS NULL THEN ps_rrn(j.id) END,
           CASE WHEN j.kind IS NULL THEN ps_auth_code(j.id) END,
           CASE WHEN j.kind IS NULL THEN j.balance - j.pts END
    FROM j
    WHERE j.kind IS NULL OR j.kind NOT IN ('invalid-amount', 'invalid-merchant')
    ORDER BY j.i
    RETURNING auth_id, card_no, merchant_id, points, state, response, rrn, auth_code, business_date
  ), t AS (
    -- one row a debit: the member's side and the merchant bucket's side (ledger_entries shows the two)
    INSERT INTO ledger_txns (card_no, kind, auth_id, member_points, counter_kind, merchant_id, bucket, business_date)
    SELECT card_no, 'purchase', auth_id, -points, 'merchant', merchant_id, ps_bucket(card_no), business_date
    FROM ins WHERE state = 'approved'
  ), upd AS (
    UPDATE cards c SET balance = c.balance - ins.points, version = c.version + 1
    FROM ins WHERE ins.state = 'approved' AND c.card_no = ins.card_no
  )
  -- An approval comes back as its columns (answer NULL), the caller makes {ok, rrn, authCode, points, amountFen,
  -- balancePoints} from them as ps_answer does; anything else as its answer.
  SELECT CASE
           WHEN ins.state = 'approved' THEN NULL
           WHEN ins.auth_id IS NOT NULL THEN ins.response
           WHEN j.kind IN ('invalid-amount', 'invalid-merchant') THEN jsonb_build_object('ok', false, 'decline', jsonb_build_object('kind', j.kind))
           ELSE '{"ok": false, "retry": true}'::jsonb      -- not reached: every other item is inserted
         END,
         ins.rrn, ins.auth_code,
         CASE WHEN ins.state = 'approved' THEN ins.points END,
         -- the card's new version and balance, from the locked row (it is ours until commit): the approval's
         -- balancePoints, and the cache's
         CASE WHEN ins.state = 'approved' THEN j.version + 1 END,
         CASE WHEN ins.state = 'approved' THEN j.balance - j.pts END
  FROM j LEFT JOIN ins ON ins.auth_id = j.id
  ORDER BY j.i;
END $function$;
