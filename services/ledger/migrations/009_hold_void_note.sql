-- The free-text note given with VoidHold, kept with the hold (it was checked and dropped before).
-- Empty for holds voided without one, by the hold-timeout job, and for holds not voided.
ALTER TABLE holds ADD COLUMN void_note text NOT NULL DEFAULT '';
