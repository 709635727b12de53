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
from services.campaign.member_caps import accrue_capped, late_transactions, past_usage

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
    past = {(0, DAY, key(DAY, 12)): 90}  # Tuesday's stored purchases earned 90
    batch = purchases([0] * 5, [10, 5, 5, 3, 2], [13, 12, 12, 14, 13])
    points, after = accrue_capped(
        rules(points_max_per_member_day=100), batch, np.zeros(1, dtype=np.int8), counters, past
    )
    # Wednesday's 40 left; Tuesday's last 10, then none; Thursday anew; Wednesday is full.
    assert points.tolist() == [40, 10, 0, 30, 0]
    assert after[DAY, 0].tolist() == [key(DAY, 14), 30]


def test_a_late_purchase_counts_towards_the_week_it_shares() -> None:
    counters = ledger_core.new_cap_counters(1)
    counters[DAY, 0] = (key(DAY, 13), 0)
    counters[WEEK, 0] = (key(WEEK, 13), 100)
    batch = purchases([0, 0], [3, 5], [14, 12])  # Thursday, then Tuesday of the same week
    points, after = accrue_capped(
        rules(points_max_per_member_day=100, points_max_per_member_week=150),
        batch,
        np.zeros(1, dtype=np.int8),
        counters,
        {},
    )
    assert points.tolist() == [30, 20]
    assert after[WEEK, 0].tolist() == [key(WEEK, 13), 150]
    assert after[DAY, 0].tolist() == [key(DAY, 14), 30]


CAPS = {"points_max_per_member_day": 70, "points_max_per_member_week": 200}


@settings(max_examples=200, deadline=None)
@given(
    arrivals=st.lists(
        st.tuples(st.integers(0, 2), st.integers(1, 12), st.integers(1, 21)),
        min_size=1,
        max_size=40,
    ),
    cuts=st.lists(st.integers(0, 40), max_size=4),
)
def test_no_order_of_arrival_passes_a_cap(
    arrivals: list[tuple[int, int, int]], cuts: list[int]
) -> None:
    # Purchases (member, euros, day of March) in arrival order, cut into batches; each batch sees
    # the counters and the stored purchases of the batches before it, as campaign gives them.
    compiled = rules(**CAPS)
    counters = ledger_core.new_cap_counters(3)
    stored: list[tuple[int, int, int]] = []  # member, second, points
    bounds = sorted({0, len(arrivals), *(c for c in cuts if c < len(arrivals))})
    for start, end in itertools.pairwise(bounds):
        members, euros, days = map(list, zip(*arrivals[start:end], strict=True))
        past = past_usage(
            compiled,
            np.array([m for m, _, _ in stored], dtype=np.int64),
            np.array([s for _, s, _ in stored], dtype=np.int64),
            np.array([p for _, _, p in stored], dtype=np.int64),
        )
        batch = purchases(members, euros, days)
        points, counters = accrue_capped(
            compiled, batch, np.zeros(3, dtype=np.int8), counters, past
        )
        stored += zip(members, batch.timestamps_seconds.tolist(), points.tolist(), strict=True)
    day_total: defaultdict[tuple[int, int], int] = defaultdict(int)
    week_total: defaultdict[tuple[int, int], int] = defaultdict(int)
    for member, second, points in stored:
        day_total[(member, key(DAY, _day_of(second)))] += points
        week_total[(member, key(WEEK, _day_of(second)))] += points
    assert max(day_total.values()) <= CAPS["points_max_per_member_day"]
    assert max(week_total.values()) <= CAPS["points_max_per_member_week"]
    # No purchase is refused points while its day and week have room for all of them.
    for member, second, points in stored:
        day, week = key(DAY, _day_of(second)), key(WEEK, _day_of(second))
        if points == 0:
            assert (
                day_total[(member, day)] == CAPS["points_max_per_member_day"]
                or week_total[(member, week)] == CAPS["points_max_per_member_week"]
            )


def _day_of(second: int) -> int:
    return dt.datetime.fromtimestamp(second, zoneinfo.ZoneInfo(ZONE)).day
