-- Up Migration
-- No index on authorisations.card_no: nothing reads authorisations by card (the hot path finds a request by its
-- key, a refund its original by the auth id, a void by terminal, batch and trace; the audit and clearing read whole
-- tables), and every money request paid for it: one more btree insert at a random leaf page per authorisation.
-- Measured with pgbench on the batch debit alone (20 debits a call), with and without the index in turns on the
-- bench database (480,000 authorisations): 5-9 % less time a call.
-- A card's authorisations can still be found (a scan); an operator who needs that often builds the index again
-- (CREATE INDEX CONCURRENTLY authorisations_card ON authorisations (card_no)) without stopping the switch.
DROP INDEX authorisations_card;

-- Down Migration
CREATE INDEX authorisations_card ON authorisations (card_no);
