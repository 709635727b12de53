"""The kernels equal the plain-Python reference on random inputs, extremes included."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ledger_core_builders import assert_same_accrual, local_seconds

from ledger_core import (
    BurnRequests,
    Conditions,
    EarningRule,
    LedgerCoreError,
    LotBook,
    RoundingMode,
    RuleKind,
    RuleSet,
    TierPolicy,
    TimeWindow,
    TransactionBatch,
    accrue,
    allocate_fifo,
    compile_rules,
    evaluate_tiers,
    new_cap_counters,
    reference,
)

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TIER_COUNT = 3
# Around both 2024 DST changes in Amsterdam, and a quiet week, so windows and caps cross them.
TIME_RANGES = [
    (local_seconds(2024, 3, 28, 0, 0, 0), local_seconds(2024, 4, 3, 0, 0, 0)),
    (local_seconds(2024, 10, 24, 0, 0, 0), local_seconds(2024, 11, 2, 0, 0, 0)),
    (local_seconds(2024, 6, 28, 0, 0, 0), local_seconds(2024, 7, 3, 0, 0, 0)),
]


def small_sets(values: st.SearchStrategy[int], max_size: int) -> st.SearchStrategy[frozenset[int]]:
    """Mostly empty (any value matches), so that random rules match often enough."""
    empty = st.just(frozenset[int]())
    return st.one_of(empty, empty, empty, st.frozensets(values, min_size=1, max_size=max_size))


points_max = st.one_of(st.none(), st.none(), st.integers(0, 3_000), st.just(INT64_MAX))


def rarely(usual: st.SearchStrategy[int], *extremes: int) -> st.SearchStrategy[int]:
    """`usual` nine times in ten, else one of the extremes."""
    return st.sampled_from(range(10)).flatmap(
        lambda roll: st.sampled_from(extremes) if roll == 9 else usual
    )


@st.composite
def windows(draw: st.DrawFn) -> TimeWindow | None:
    if draw(st.integers(0, 2)):
        return None
    first = draw(st.one_of(st.none(), st.dates(dt.date(2024, 3, 25), dt.date(2024, 11, 1))))
    last = draw(st.one_of(st.none(), st.dates(first or dt.date(2024, 3, 25), dt.date(2024, 11, 5))))
    start = draw(st.integers(0, 1439))
    end = draw(st.integers(1, 1440))
    end = start + 1 if end == start else end
    return TimeWindow(
        first_date=first,
        last_date=last,
        weekdays=draw(small_sets(st.integers(0, 6), max_size=4)),
        start_minute_of_day=start,
        end_minute_of_day=end,
    )


@st.composite
def earning_rules(draw: st.DrawFn, rule_id: str) -> EarningRule:
    kind = draw(
        st.sampled_from([*RuleKind, *[RuleKind.RATE, RuleKind.MULTIPLIER, RuleKind.BONUS] * 2])
    )
    conditions = Conditions(
        tiers=draw(small_sets(st.integers(0, TIER_COUNT - 1), max_size=2)),
        categories=draw(
            # An exclusion of everything is rare: most exclusions name categories.
            st.frozensets(st.integers(0, 5), min_size=1, max_size=2)
            if kind == RuleKind.EXCLUSION and draw(st.integers(0, 4))
            else small_sets(st.integers(0, 5), max_size=2)
        ),
        skus=draw(small_sets(st.sampled_from([0, 1, 2, 10**12]), max_size=2)),
        channels=draw(small_sets(st.integers(0, 2), max_size=1)),
        stores=draw(small_sets(st.integers(0, 3), max_size=2)),
        window=draw(windows()),
        spend_min_minor=draw(st.sampled_from([0, 0, 500, 2_000])),
    )
    fields: dict[str, Any] = {}
    if kind == RuleKind.RATE:
        fields = {
            "points_per_unit": draw(rarely(st.integers(0, 25), INT64_MAX)),
            "unit_minor": draw(st.sampled_from([1, 3, 100, 250])),
            "rounding": draw(st.sampled_from(RoundingMode)),
        }
    elif kind == RuleKind.MULTIPLIER:
        fields = {"multiplier_basis_points": draw(st.integers(10_000, 40_000))}
    elif kind == RuleKind.BONUS:
        fields = {"bonus_points": draw(rarely(st.integers(0, 500), INT64_MAX))}
    return EarningRule(
        rule_id,
        kind,
        conditions,
        points_max_per_transaction=draw(points_max),
        **fields,
    )


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    count = draw(st.integers(0, 6))
    rules = [draw(earning_rules(f"rule-{n}")) for n in range(count)]
    if len(rules) > 0 and draw(st.integers(0, 2)) > 0:
        # Most programs have a plain base rate first.
        rules[0] = EarningRule(
            "base",
            RuleKind.RATE,
            points_per_unit=draw(st.integers(1, 20)),
            unit_minor=draw(st.sampled_from([1, 100])),
            rounding=draw(st.sampled_from(RoundingMode)),
        )
    return RuleSet(
        rule_set_id="property",
        time_zone="Europe/Amsterdam",
        tier_count=TIER_COUNT,
        rules=tuple(rules),
        points_max_per_transaction=draw(points_max),
        points_max_per_member_day=draw(points_max),
        points_max_per_member_week=draw(points_max),
        points_max_per_member_month=draw(points_max),
    )


@st.composite
def batches(draw: st.DrawFn, member_count: int) -> TransactionBatch:
    count = draw(rarely(st.integers(1, 30), 0))
    start, end = draw(st.sampled_from(TIME_RANGES))
    amounts = st.one_of(
        st.integers(-5_000, 10_000),
        st.integers(-5_000, 10_000),
        st.integers(-5_000, 10_000),
        st.sampled_from([0, 1, 250, 350, 2**32, -(2**40)]),
        rarely(st.integers(-5_000, 10_000), INT64_MAX, INT64_MIN, INT64_MIN + 1),
    )

    def column(values: st.SearchStrategy[int], dtype: type) -> np.ndarray:
        return np.array(draw(st.lists(values, min_size=count, max_size=count)), dtype=dtype)

    return TransactionBatch(
        member_indexes=column(st.integers(0, member_count - 1), np.int32),
        amounts_minor=column(amounts, np.int64),
        categories=column(st.integers(-1, 6), np.int32),
        skus=column(st.sampled_from([0, 1, 2, 3, 10**12, -7]), np.int64),
        channels=column(st.integers(0, 3), np.int32),
        stores=column(st.integers(0, 4), np.int32),
        timestamps_seconds=column(st.integers(start, end), np.int64),
    )


def outcome(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The result, or the error as (type, its fields), so raising the same error is equal too."""
    try:
        return function(*args, **kwargs)
    except LedgerCoreError as error:
        return type(error), vars(error)


@settings(PROPERTY_SETTINGS, max_examples=300)
@given(data=st.data(), rules=rule_sets(), member_count=st.integers(1, 4))
def test_accrue_equals_reference(data: st.DataObject, rules: RuleSet, member_count: int) -> None:
    transactions = data.draw(batches(member_count))
    tiers = np.array(
        data.draw(
            st.lists(st.integers(0, TIER_COUNT - 1), min_size=member_count, max_size=member_count)
        ),
        dtype=np.int8,
    )
    # Counters from an earlier call: some in the current periods, some stale.
    counters = new_cap_counters(member_count)
    counters[:, :, 1] = data.draw(st.sampled_from([0, 100, 5_000]))
    timestamps = transactions.timestamps_seconds
    first_day = int(timestamps.min()) // 86_400 if len(timestamps) else 0
    counters[0, :, 0] = data.draw(st.sampled_from([0, first_day, first_day + 1]))
    arguments = {"member_tiers": tiers, "cap_counters": counters}
    kernel = outcome(accrue, transactions, rules=compile_rules(rules), **arguments)
    slow = outcome(reference.accrue, transactions, rules=rules, **arguments)
    assert_same_accrual(kernel, slow)
    event("raised" if isinstance(kernel, tuple) else f"points earned: {bool(kernel.points.any())}")


@PROPERTY_SETTINGS
@given(data=st.data(), rules=rule_sets())
def test_accrual_of_one_batch_equals_two_halves(data: st.DataObject, rules: RuleSet) -> None:
    transactions = data.draw(batches(2))
    count = len(transactions.amounts_minor)
    split = data.draw(st.integers(0, count))
    halves = [
        TransactionBatch(**{name: column[part] for name, column in vars(transactions).items()})
        for part in (slice(0, split), slice(split, count))
    ]
    compiled, tiers = compile_rules(rules), [0, 2]
    whole = outcome(
        accrue, transactions, member_tiers=tiers, cap_counters=new_cap_counters(2), rules=compiled
    )
    first = outcome(
        accrue, halves[0], member_tiers=tiers, cap_counters=new_cap_counters(2), rules=compiled
    )
    if isinstance(whole, tuple) or isinstance(first, tuple):
        return
    second = outcome(
        accrue, halves[1], member_tiers=tiers, cap_counters=first.cap_counters, rules=compiled
    )
    if isinstance(second, tuple):
        return
    assert np.concatenate([first.points, second.points]).tolist() == whole.points.tolist()
    assert np.array_equal(second.cap_counters, whole.cap_counters)


def test_everything_excluded_earns_nothing() -> None:
    rules = RuleSet(
        rule_set_id="all-out",
        time_zone="Europe/Amsterdam",
        tier_count=1,
        rules=(
            EarningRule("base", RuleKind.RATE, points_per_unit=10),
            EarningRule("nothing", RuleKind.EXCLUSION),
        ),
        points_max_per_member_day=10,
    )
    count = 1_000
    transactions = TransactionBatch(
        member_indexes=np.zeros(count, dtype=np.int32),
        amounts_minor=np.full(count, 10_000, dtype=np.int64),
        categories=np.zeros(count, dtype=np.int32),
        skus=np.zeros(count, dtype=np.int64),
        channels=np.zeros(count, dtype=np.int32),
        stores=np.zeros(count, dtype=np.int32),
        timestamps_seconds=np.full(count, TIME_RANGES[0][0], dtype=np.int64),
    )
    result = accrue(
        transactions, member_tiers=[0], cap_counters=new_cap_counters(1), rules=compile_rules(rules)
    )
    assert not result.points.any()
    assert not result.cap_counters.any()
    assert len(result.attribution_points) == 0


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    thresholds=st.lists(st.integers(-100, 10_000), min_size=1, max_size=6).map(sorted),
    is_requalification=st.booleans(),
    tiers_down_max=st.integers(0, 5),
)
def test_evaluate_tiers_equals_reference(
    data: st.DataObject, thresholds: list[int], is_requalification: bool, tiers_down_max: int
) -> None:
    count = data.draw(st.integers(0, 40))
    points = data.draw(
        st.lists(
            st.one_of(st.integers(-200, 12_000), st.sampled_from([INT64_MIN, INT64_MAX])),
            min_size=count,
            max_size=count,
        )
    )
    tiers = data.draw(st.lists(st.integers(0, len(thresholds) - 1), min_size=count, max_size=count))
    arguments: dict[str, Any] = {
        "qualifying_points": np.array(points, dtype=np.int64),
        "current_tiers": np.array(tiers, dtype=np.int8),
        "thresholds_points": thresholds,
        "policy": TierPolicy(is_requalification=is_requalification, tiers_down_max=tiers_down_max),
    }
    kernel, slow = evaluate_tiers(**arguments), reference.evaluate_tiers(**arguments)
    assert kernel.tiers.tolist() == slow.tiers.tolist()
    assert kernel.changed_member_indexes.tolist() == slow.changed_member_indexes.tolist()
    if not is_requalification:
        assert (kernel.tiers >= arguments["current_tiers"]).all()


@st.composite
def lot_books(draw: st.DrawFn) -> LotBook:
    lots_per_account = draw(st.lists(st.integers(0, 5), min_size=1, max_size=5))
    remaining, vests, expires = [], [], []
    for count in lots_per_account:
        remaining += draw(st.lists(st.integers(0, 100), min_size=count, max_size=count))
        vests += draw(st.lists(st.integers(0, 20), min_size=count, max_size=count))
        expires += sorted(draw(st.lists(st.integers(0, 40), min_size=count, max_size=count)))
    return LotBook(
        account_offsets=np.concatenate([[0], np.cumsum(lots_per_account)]).astype(np.int64),
        remaining_points=np.array(remaining, dtype=np.int64),
        vests_at_seconds=np.array(vests, dtype=np.int64),
        expires_at_seconds=np.array(expires, dtype=np.int64),
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data(), lots=lot_books(), as_of_seconds=st.integers(0, 40))
def test_allocate_fifo_equals_reference(
    data: st.DataObject, lots: LotBook, as_of_seconds: int
) -> None:
    account_count = len(lots.account_offsets) - 1
    count = data.draw(st.integers(0, 12))
    requests = BurnRequests(
        account_indexes=data.draw(
            st.lists(st.integers(0, account_count - 1), min_size=count, max_size=count)
        ),
        points=data.draw(
            st.lists(
                st.one_of(st.integers(0, 150), st.just(INT64_MAX)), min_size=count, max_size=count
            )
        ),
    )
    kernel = allocate_fifo(lots, requests, as_of_seconds=as_of_seconds)
    slow = reference.allocate_fifo(lots, requests, as_of_seconds=as_of_seconds)
    assert kernel.consumed_points.tolist() == slow.consumed_points.tolist()
    assert kernel.shortfall_points.tolist() == slow.shortfall_points.tolist()
    assert (kernel.consumed_points <= np.asarray(lots.remaining_points)).all()
