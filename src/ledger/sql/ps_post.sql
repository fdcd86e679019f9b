-- Appends one balanced txn for a card (member moves by p_member_points, the counter side by the opposite) and
-- moves the card's balance. A merchant-side row is cleared under p_date, which the caller has taken through
-- ps_open_date. Called by ps_void, ps_refund, ps_reverse and ps_credit.
CREATE OR REPLACE FUNCTION ps_post(p_card text, p_kind text, p_auth bigint, p_member_points bigint, p_counter text, p_merchant text, p_date date)
 RETURNS bigint
 LANGUAGE plpgsql
AS $function$
DECLARE v_txn bigint;
BEGIN
  INSERT INTO ledger_txns (card_no, kind, auth_id, member_points, counter_kind, merchant_id, bucket, business_date)
    VALUES (p_card, p_kind, p_auth, p_member_points, p_counter, CASE WHEN p_counter = 'merchant' THEN p_merchant END,
            CASE WHEN p_counter = 'merchant' THEN ps_bucket(p_card) END,
            CASE WHEN p_counter = 'merchant' THEN p_date END)
    RETURNING txn_id INTO v_txn;
  UPDATE cards SET balance = balance + p_member_points, version = version + 1 WHERE card_no = p_card;
  RETURN v_txn;
END $function$;
