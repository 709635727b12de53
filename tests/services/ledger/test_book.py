"""The member book's pure parts: FIFO allocation over a member's lots."""

import datetime as dt

from services.ledger import store
from services.ledger.book import fifo_allocation

NOW = dt.datetime(2026, 3, 29, 12, 0, 0, 300_000, tzinfo=dt.UTC)


def lot(lot_id: int, remaining: int, expires_at: dt.datetime | None) -> store.Lot:
    return store.Lot(
        lot_id=lot_id,
        posting_id=lot_id,
        amount=remaining,
        remaining=remaining,
        vested=True,
        earned_at=NOW - dt.timedelta(days=30),
        vests_at=NOW - dt.timedelta(days=16),
        expires_at=expires_at,
        source_reference="",
    )


def test_a_lot_expiring_later_in_the_current_second_is_spent_first() -> None:
    lots = [
        lot(1, 10, NOW + dt.timedelta(milliseconds=500)),  # 12:00:00.8, same second as now
        lot(2, 10, NOW + dt.timedelta(days=300)),
        lot(3, 10, None),
    ]
    assert fifo_allocation(lots, 15, NOW) == {1: 10, 2: 5}
    assert fifo_allocation(lots, 25, NOW) == {1: 10, 2: 10, 3: 5}


def test_no_lots_allocate_nothing() -> None:
    assert fifo_allocation([], 5, NOW) == {}
