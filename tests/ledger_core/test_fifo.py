"""allocate_fifo: burn requests consume vested lots, earliest expiry first."""

import pytest

from ledger_core import AllocationError, BurnRequests, InputError, LotBook, allocate_fifo

DAY = 86_400


def book() -> LotBook:
    # Account 0: three lots; the middle one has not vested yet. Account 1: one lot, expired.
    return LotBook(
        account_offsets=[0, 3, 4],
        remaining_points=[100, 50, 200, 70],
        vests_at_seconds=[0, 20 * DAY, 0, 0],
        expires_at_seconds=[30 * DAY, 40 * DAY, 90 * DAY, 5 * DAY],
    )


def test_requests_take_from_the_earliest_eligible_lot_on() -> None:
    requests = BurnRequests(account_indexes=[0, 0, 1], points=[120, 200, 10])
    result = allocate_fifo(book(), requests, as_of_seconds=10 * DAY)
    assert result.consumed_points.tolist() == [100, 0, 200, 0]
    assert result.shortfall_points.tolist() == [0, 20, 10]


def test_a_vested_lot_is_consumed_in_expiry_order() -> None:
    requests = BurnRequests(account_indexes=[0], points=[160])
    result = allocate_fifo(book(), requests, as_of_seconds=25 * DAY)
    assert result.consumed_points.tolist() == [100, 50, 10, 0]


def test_lots_out_of_expiry_order_are_refused() -> None:
    lots = LotBook(
        account_offsets=[0, 2],
        remaining_points=[1, 1],
        vests_at_seconds=[0, 0],
        expires_at_seconds=[10, 5],
    )
    with pytest.raises(AllocationError) as raised:
        allocate_fifo(lots, BurnRequests(account_indexes=[0], points=[1]), as_of_seconds=0)
    assert (raised.value.field, raised.value.index) == ("lots.expires_at_seconds", 1)


def test_requests_for_unknown_accounts_and_negative_points_are_refused() -> None:
    with pytest.raises(AllocationError) as raised:
        allocate_fifo(book(), BurnRequests(account_indexes=[0, 2], points=[1, 1]), as_of_seconds=0)
    assert (raised.value.field, raised.value.index) == ("requests.account_indexes", 1)
    with pytest.raises(AllocationError) as raised:
        allocate_fifo(book(), BurnRequests(account_indexes=[0], points=[-1]), as_of_seconds=0)
    assert raised.value.field == "requests.points"


def test_offsets_must_cover_the_lots() -> None:
    lots = LotBook(
        account_offsets=[0, 1],
        remaining_points=[1, 1],
        vests_at_seconds=[0, 0],
        expires_at_seconds=[1, 1],
    )
    with pytest.raises(InputError) as raised:
        allocate_fifo(lots, BurnRequests(account_indexes=[], points=[]), as_of_seconds=0)
    assert raised.value.argument == "lots.account_offsets"
