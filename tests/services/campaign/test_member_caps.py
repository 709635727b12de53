"""Member caps however late purchases arrive: the pure parts (services/campaign/member_caps.py)."""

import datetime as dt
import itertools
import zoneinfo
from collections import defaultdict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger_core
from ledger_core import limits
from services.campaign.member_caps import (
    PastUsage,
    accrue_capped,
    codes,
    history_needed,
    late_transactions,
)

ZONE = "Europe/Amsterdam"
DAY, WEEK, MONTH = limits.CAP_DAY, limits.CAP_WEEK, limits.CAP_MONTH


def noon(day: int) -> int:
    """Unix seconds of noon in Amsterdam on a day of March 2024 (Wednesday the 13th is day 13)."""
    return int(dt.datetime(2024, 3, day, 12, tzinfo=zoneinfo.ZoneInfo(ZONE)).timestamp())


def rules(**caps: int) -> ledger_core.CompiledRuleSet:
    rate = ledger_core.EarningRule(
        "base", ledger_core.RuleKind.RATE, ledger_core.Conditions(), points_per_unit=10
    )
    return ledger_core.compile_rules(
        ledger_core.RuleSet("caps", ZONE, 1, (rate,), **caps)  # type: ignore[arg-type]
    )


def purchases(
    members: list[int], euros: list[int], days: list[int]
) -> ledger_core.TransactionBatch:
    zeros = np.zeros(len(members), dtype=np.int32)
    return ledger_core.TransactionBatch(
        member_indexes=np.array(members, dtype=np.int32),
        amounts_minor=np.array(euros, dtype=np.int64) * 100,
        categories=zeros,
        skus=zeros,
        channels=zeros,
        stores=zeros,
        timestamps_seconds=np.array([noon(day) for day in days], dtype=np.int64),
    )


def key(period: int, day: int) -> int:
    return int(ledger_core.period_keys(ZONE, [noon(day)])[period, 0])


def code(member: int, period: int, day: int) -> int:
    return int(codes(np.array([member]), np.array([key(period, day)]))[0])


def test_late_means_before_the_counter_or_an_earlier_purchase_of_the_member() -> None:
    counters = ledger_core.new_cap_counters(2)
    counters[DAY, 0] = (key(DAY, 13), 60)
    batch = purchases([0, 0, 1, 0, 0, 1], [1] * 6, [14, 12, 13, 14, 13, 12])
    keys = ledger_core.period_keys(ZONE, batch.timestamps_seconds)
    late = late_transactions(keys, np.asarray(batch.member_indexes), counters, (DAY,))
    assert late.tolist() == [False, True, False, False, True, True]
    # Only the capped periods count: all of these are in one month.
    assert not late_transactions(keys, np.asarray(batch.member_indexes), counters, (MONTH,)).any()


def test_late_purchases_are_capped_by_their_own_day() -> None:
    counters = ledger_core.new_cap_counters(1)
    counters[DAY, 0] = (key(DAY, 13), 60)  # Wednesday: 60 of the day's 100 used
    compiled = rules(points_max_per_member_day=100)
    tuesday, wednesday = code(0, DAY, 12), code(0, DAY, 13)
    past: PastUsage = {DAY: (np.array([tuesday]), np.array([90]))}  # Tuesday's history: 90
    batch = purchases([0] * 5, [10, 5, 5, 3, 2], [13, 12, 12, 14, 13])
    accrual = accrue_capped(compiled, batch, np.zeros(1, dtype=np.int8), counters, past)
    # Wednesday's 40 left; Tuesday's last 10, then none; Thursday anew; Wednesday is full.
    assert accrual.points.tolist() == [40, 10, 0, 30, 0]
    assert accrual.counters[DAY, 0].tolist() == [key(DAY, 14), 30]
    # Tuesday's history gets the 10; Wednesday's, the counter having moved on, its 100.
    added_codes, added = accrual.history[DAY]
    assert dict(zip(added_codes.tolist(), added.tolist(), strict=True)) == {
        tuesday: 10,
        wednesday: 100,
    }


def test_a_late_purchase_counts_towards_the_week_it_shares() -> None:
    counters = ledger_core.new_cap_counters(1)
    counters[DAY, 0] = (key(DAY, 13), 0)
    counters[WEEK, 0] = (key(WEEK, 13), 100)
    batch = purchases([0, 0], [3, 5], [14, 12])  # Thursday, then Tuesday of the same week
    accrual = accrue_capped(
        rules(points_max_per_member_day=100, points_max_per_member_week=150),
        batch,
        np.zeros(1, dtype=np.int8),
        counters,
        {},
    )
    assert accrual.points.tolist() == [30, 20]
    assert accrual.counters[WEEK, 0].tolist() == [key(WEEK, 13), 150]
    assert accrual.counters[DAY, 0].tolist() == [key(DAY, 14), 30]


CAPS = {"points_max_per_member_day": 70, "points_max_per_member_week": 200}


Arrival = tuple[int, int, int]  # member, euros, day of March
Stored = tuple[int, int, int, int]  # member, second, euros, points


def arrive(
    arrivals: list[Arrival], cuts: list[int]
) -> tuple[list[Stored], np.ndarray, dict[tuple[int, int], int]]:
    """Purchases in arrival order, cut into batches; each batch sees the counters and the history
    the batches before it stored, as campaign gives them. Returns the purchases with their points,
    the counters and the history ((period, code) -> points)."""
    compiled = rules(**CAPS)
    counters = ledger_core.new_cap_counters(3)
    history: dict[tuple[int, int], int] = {}
    stored: list[Stored] = []
    bounds = sorted({0, len(arrivals), *(c for c in cuts if c < len(arrivals))})
    for start, end in itertools.pairwise(bounds):
        members, euros, days = map(list, zip(*arrivals[start:end], strict=True))
        batch = purchases(members, euros, days)
        needed = history_needed(compiled, np.array(members), batch.timestamps_seconds, counters)
        past: PastUsage = {
            period: (coded, np.array([history.get((period, c), 0) for c in coded.tolist()]))
            for period, coded in needed.items()
        }
        accrual = accrue_capped(compiled, batch, np.zeros(3, dtype=np.int8), counters, past)
        for period, (coded, added) in accrual.history.items():
            for c, points in zip(coded.tolist(), added.tolist(), strict=True):
                history[(period, c)] = history.get((period, c), 0) + points
        counters = accrual.counters
        seconds = batch.timestamps_seconds.tolist()
        stored += zip(members, seconds, euros, accrual.points.tolist(), strict=True)
    return stored, counters, history


def test_a_late_purchase_after_its_counter_moves_the_counter_on() -> None:
    # Day 3 used 50 of 100. A purchase of day 6 that earns nothing (5 cents) makes the day 5
    # one after it late; the next batch's day 5 purchase must find day 5's 80 in the counter.
    stored, counters, _ = arrive([(0, 5, 3), (0, 0, 6), (0, 8, 5), (0, 8, 5)], [1, 3])
    assert [points for *_, points in stored] == [50, 0, 70, 0]
    assert counters[DAY, 0].tolist() == [key(DAY, 5), 70]


@settings(max_examples=300, deadline=None)
@given(
    arrivals=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 12), st.integers(1, 21)),
        min_size=1,
        max_size=40,
    ),
    cuts=st.lists(st.integers(0, 40), max_size=4),
)
def test_no_order_of_arrival_passes_a_cap(arrivals: list[Arrival], cuts: list[int]) -> None:
    stored, counters, history = arrive(arrivals, cuts)
    totals: defaultdict[tuple[int, int], int] = defaultdict(int)  # (period, code) -> points
    for member, second, _, points in stored:
        for period in (DAY, WEEK):
            totals[(period, code(member, period, _day_of(second)))] += points
    caps = {DAY: CAPS["points_max_per_member_day"], WEEK: CAPS["points_max_per_member_week"]}
    assert all(points <= caps[period] for (period, _), points in totals.items())
    # No purchase is refused points while its day and week have room for all of them.
    for member, second, euros, points in stored:
        if points == 0 and euros > 0:
            assert any(
                totals[(period, code(member, period, _day_of(second)))] == caps[period]
                for period in (DAY, WEEK)
            )
    # Every period's use is in its counter or its history, exactly.
    for (period, coded), points in totals.items():
        member, period_key = divmod(coded, 1 << 32)
        if counters[period, member, 0] == period_key:
            assert counters[period, member, 1] == points
        else:
            assert history.get((period, coded), 0) == points


def _day_of(second: int) -> int:
    return dt.datetime.fromtimestamp(second, zoneinfo.ZoneInfo(ZONE)).day
