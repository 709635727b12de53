-- Where a lot a transfer credited came from: the lot it was taken from, followed back through
-- earlier transfers to the lot first credited (its purchase's, for an earn). A purchase made
-- before a merge stays the merged member's while its points sit on the survivor's lots; a
-- refund or a `Reverse` counts what expired of those (reversals.py) as it counts what expired
-- of the purchase's own lot (migration 016), so it never takes them back a second time. Lots
-- moved before this migration are not known: their expiry is not counted.
CREATE TABLE moved_lots (
    program_id text NOT NULL,
    member_id text NOT NULL,
    lot_id bigint NOT NULL,
    origin_member_id text NOT NULL,
    origin_lot_id bigint NOT NULL,
    PRIMARY KEY (program_id, member_id, lot_id)
);

CREATE INDEX moved_lots_origin ON moved_lots (program_id, member_id, origin_member_id, origin_lot_id);
