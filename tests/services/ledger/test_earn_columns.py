"""The columnar sums of a batch's earns equal the same sums taken item by item."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ledger.earn_columns import (
    NO_DAY,
    NO_INSTANT,
    EarnItems,
    available_after,
    member_totals,
    off_bucket_days,
)

POINTS_MAX = 10**12


@st.composite
def batches(draw: st.DrawFn) -> EarnItems:
    members = draw(st.integers(1, 6))
    count = draw(st.integers(1, 40))

    def column(values: st.SearchStrategy[int]) -> np.ndarray:  # type: ignore[type-arg]
        return np.array(draw(st.lists(values, min_size=count, max_size=count)), dtype=np.int64)

    codes = column(st.integers(0, members - 1))
    # Every member code appears, as EarnItems.of numbers them.
    codes[:members] = np.arange(min(members, count))
    members = int(codes.max()) + 1
    return EarnItems(
        indexes=list(range(count)),
        moments=[],
        members=[f"m{code}" for code in range(members)],
        codes=codes,
        points=column(st.integers(1, POINTS_MAX)),
        vested=np.array(draw(st.lists(st.booleans(), min_size=count, max_size=count))),
        qualifying=column(st.one_of(st.just(0), st.integers(-(10**9), POINTS_MAX))),
        days=column(st.integers(738_000, 738_010)),
        vests_micros=column(st.integers(0, 2**62)),
        occurred_micros=column(st.integers(-(2**62), 2**62)),
    )


@settings(max_examples=300, deadline=None)
@given(batches())
def test_member_totals_are_the_sums_item_by_item(items: EarnItems) -> None:
    totals = member_totals(items)
    for code in range(len(items.members)):
        mine = items.codes == code
        vested, pending = mine & items.vested, mine & ~items.vested
        assert totals.vested[code] == sum(items.points[vested].tolist())
        assert totals.pending[code] == sum(items.points[pending].tolist())
        assert totals.lifetime[code] == sum(items.points[mine].tolist())
        assert totals.qualifying[code] == sum(items.qualifying[mine].tolist())
        assert totals.next_vest_micros[code] == min(
            items.vests_micros[pending].tolist(), default=NO_INSTANT
        )
        assert totals.latest_occurred_micros[code] == max(items.occurred_micros[mine].tolist())
        days: dict[int, int] = {}
        for day, amount in zip(
            items.days[mine].tolist(), items.qualifying[mine].tolist(), strict=True
        ):
            if amount:
                days[day] = days.get(day, 0) + amount
        latest = max(days, default=NO_DAY)
        assert totals.bucket_days[code] == latest
        assert totals.bucket_amounts[code] == days.get(latest, 0)


@settings(max_examples=300, deadline=None)
@given(batches(), st.data())
def test_each_posting_records_the_available_points_after_it(
    items: EarnItems, data: st.DataObject
) -> None:
    before = np.array(
        data.draw(
            st.lists(
                st.integers(-(10**12), 10**12),
                min_size=len(items.members),
                max_size=len(items.members),
            )
        ),
        dtype=np.int64,
    )
    vested_points = np.where(items.vested, items.points, 0)
    running = before.tolist()
    expected = []
    for code, points in zip(items.codes.tolist(), vested_points.tolist(), strict=True):
        running[code] += points
        expected.append(running[code])
    assert available_after(items.codes, vested_points, before).tolist() == expected


@settings(max_examples=300, deadline=None)
@given(batches(), st.data())
def test_the_days_the_buckets_did_not_take_are_written_once_each(
    items: EarnItems, data: st.DataObject
) -> None:
    members = len(items.members)
    applied = np.array(data.draw(st.lists(st.booleans(), min_size=members, max_size=members)))
    day = st.one_of(st.just(NO_DAY), st.integers(738_000, 738_010))
    stored = np.array(data.draw(st.lists(day, min_size=members, max_size=members)), dtype=np.int64)
    moved = np.array(data.draw(st.lists(day, min_size=members, max_size=members)), dtype=np.int64)
    moved_amounts = np.array(
        data.draw(st.lists(st.integers(0, 10**6), min_size=members, max_size=members)),
        dtype=np.int64,
    )
    totals = member_totals(items)
    written = off_bucket_days(
        items,
        totals,
        applied=applied,
        stored_days=stored,
        moved_days=moved,
        moved_amounts=moved_amounts,
    )
    # As batches.py computed it before the columns: by member, then by day.
    expected: dict[tuple[int, int], int] = {}
    for code in range(members):
        if not applied[code]:
            continue
        bucket = int(totals.bucket_days[code])
        mine = (items.codes == code) & (items.qualifying != 0)
        for item_day, amount in zip(
            items.days[mine].tolist(), items.qualifying[mine].tolist(), strict=True
        ):
            if item_day != bucket or stored[code] != item_day:
                expected[(code, item_day)] = expected.get((code, item_day), 0) + amount
        if moved[code] != NO_DAY and moved_amounts[code]:
            key = (code, int(moved[code]))
            expected[key] = expected.get(key, 0) + int(moved_amounts[code])
    got = {
        (code, day): amount
        for code, day, amount in zip(
            written.codes.tolist(), written.days.tolist(), written.amounts.tolist(), strict=True
        )
    }
    assert got == expected
    assert len(got) == len(written.codes)
