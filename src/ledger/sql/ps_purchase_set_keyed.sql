-- The batch debit that checks each key first, for a batch after a key conflict and while retransmissions keep
-- coming (Ledger's keyedAfterConflictMs). One statement sorts the items: an item whose key was stored before it gets
-- the stored answer (ps_replay); a key that came earlier in this batch comes back {ok: false, retry: true} (run alone,
-- it replays or is a duplicate); the rest go through ps_purchase_set, the one batch debit. If a concurrent
-- transaction claims one of their keys meanwhile, ps_purchase_set fails on it as a whole, nothing of it is kept, and
-- all of them come back retry. Called by Ledger (src/ledger/debits.ts).
CREATE OR REPLACE FUNCTION ps_purchase_set_keyed(p_terminal text[], p_batch text[], p_trace text[], p_date date[], p_merchant text[], p_card text[], p_amount bigint[], p_pvv text[])
 RETURNS TABLE(answer jsonb, rrn text, auth_code text, points bigint, card_version bigint, card_balance bigint)
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
AS $function$
DECLARE
  v_stored jsonb[];     -- per item: the stored answer, retry, or NULL (to be run)
  v_run integer[];      -- the positions of the items to run, in order
  v_out record;
  v_rows jsonb[] := '{}';
BEGIN
  SELECT array_agg(CASE WHEN u.n > 1 THEN '{"ok": false, "retry": true}'::jsonb
                        WHEN a.auth_id IS NOT NULL THEN ps_replay(a, 'purchase', u.card, u.amount, u.merchant) END ORDER BY u.i),
         coalesce(array_agg(u.i ORDER BY u.i) FILTER (WHERE u.n = 1 AND a.auth_id IS NULL), '{}')
    INTO v_stored, v_run
  FROM (SELECT x.*, row_number() OVER (PARTITION BY x.t, x.b, x.tr, x.d ORDER BY x.i) AS n
        FROM unnest(p_terminal, p_batch, p_trace, p_date, p_merchant, p_card, p_amount)
             WITH ORDINALITY AS x(t, b, tr, d, merchant, card, amount, i)) u
  LEFT JOIN authorisations a ON a.terminal_id = u.t AND a.batch_no = u.b AND a.trace = u.tr AND a.business_date = u.d;

  IF cardinality(v_run) > 0 THEN
    BEGIN
      FOR v_out IN SELECT * FROM ps_purchase_set(
          (SELECT array_agg(p_terminal[i] ORDER BY o) FROM unnest(v_run) WITH ORDINALITY r(i, o)),
          (SELECT array_agg(p_batch[i] ORDER BY o) FROM unnest(v_run) WITH ORDINALITY r(i, o)),
          (SELECT array_agg(p_trace[i] ORDER BY o) FROM unnest(v_run) WITH ORDINALITY r(i, o)),
          (SELECT array_agg(p_date[i] ORDER BY o) FROM unnest(v_run) WITH ORDINALITY r(i, o)),
          (SELECT array_agg(p_merchant[i] ORDER BY o) FROM unnest(v_run) WITH ORDINALITY r(i, o)),
          (SELECT array_agg(p_card[i] ORDER BY o) FROM unnest(v_run) WITH ORDINALITY r(i, o)),
          (SELECT array_agg(p_amount[i] ORDER BY o) FROM unnest(v_run) WITH ORDINALITY r(i, o)),
          (SELECT array_agg(p_pvv[i] ORDER BY o) FROM unnest(v_run) WITH ORDINALITY r(i, o)))
      LOOP
        v_rows := v_rows || to_jsonb(v_out);
      END LOOP;
    EXCEPTION WHEN unique_violation THEN
      -- a key claimed by a concurrent transaction meanwhile: nothing of this run was kept
      v_rows := array_fill('{"answer": {"ok": false, "retry": true}}'::jsonb, ARRAY[cardinality(v_run)]);
    END;
  END IF;

  RETURN QUERY
  SELECT CASE WHEN r.row IS NOT NULL THEN nullif(r.row -> 'answer', 'null'::jsonb) ELSE v_stored[s.i] END,
         r.row ->> 'rrn', r.row ->> 'auth_code', (r.row ->> 'points')::bigint,
         (r.row ->> 'card_version')::bigint, (r.row ->> 'card_balance')::bigint
  FROM generate_subscripts(p_card, 1) AS s(i)
  LEFT JOIN LATERAL (SELECT v_rows[k] AS row FROM generate_subscripts(v_run, 1) AS k WHERE v_run[k] = s.i) r ON true
  ORDER BY s.i;
END $function$;
