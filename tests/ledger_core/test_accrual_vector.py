"""The accrual kernel's vector path (16 transactions a group, with AVX-512 or AVX2) equals the
reference.

Each instruction set is tested where the processor has it, and skipped where it has not. The
batches are shaped to reach the vector path's fallbacks: members met twice in a group, caps
reached mid-group, days and DST changes mid-group, exclusions, returns, amounts out of its range.
"""

import contextlib
import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from ledger_core_builders import (
    assert_same_accrual,
    exclusion,
    local_seconds,
    multiplier,
    rate,
    rule_set,
)
from test_properties import (
    INT64_MAX,
    INT64_MIN,
    PROPERTY_SETTINGS,
    TIER_COUNT,
    earning_rules,
    outcome,
    points_max,
)

from ledger_core import (
    Accrual,
    RoundingMode,
    RuleSet,
    TimeWindow,
    TransactionBatch,
    _accrual,
    accrue,
    compile_rules,
    new_cap_counters,
    reference,
)

# Around the 2024 change to summer time in Amsterdam (31 March), days and the offset change.
START_SECONDS = local_seconds(2024, 3, 30, 20, 0, 0)
END_SECONDS = local_seconds(2024, 4, 1, 4, 0, 0)


# None: the scalar loop.
INSTRUCTION_SETS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            name not in _accrual.vector_instructions_supported(),
            reason=f"this processor has no {name}",
        ),
    )
    for name in ("avx512", "avx2")
] + [pytest.param(None, id="scalar")]


@contextlib.contextmanager
def vector_instructions(name: str | None) -> Iterator[None]:
    previous = _accrual.use_vector_instructions(name)
    try:
        yield
    finally:
        _accrual.use_vector_instructions(previous)


def accrue_counted(
    instructions: str | None,
    batch: TransactionBatch,
    *,
    tiers: np.ndarray,
    member_count: int,
    rules: RuleSet,
) -> tuple[Accrual, int]:
    """accrue with these instructions (fresh counters), and how many transactions took the
    vector path."""
    with vector_instructions(instructions):
        before = _accrual.vector_transaction_count()
        result = accrue(
            batch,
            member_tiers=tiers,
            cap_counters=new_cap_counters(member_count),
            rules=compile_rules(rules),
        )
        return result, _accrual.vector_transaction_count() - before


def test_unsupported_instructions_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'avx1024'"):
        _accrual.use_vector_instructions("avx1024")


@st.composite
def vector_rule_sets(draw: st.DrawFn) -> RuleSet:
    """Rule sets the vector path takes: no SKU conditions, at most one capped member period."""
    count = draw(st.integers(1, 7))
    rules = [draw(earning_rules(f"rule-{n}")) for n in range(count)]
    # No SKU conditions, and mostly no caps of the rules' own (the vector path leaves those).
    rules = [
        dataclasses.replace(
            rule,
            conditions=dataclasses.replace(rule.conditions, skus=frozenset()),
            points_max_per_transaction=(
                rule.points_max_per_transaction if draw(st.integers(0, 3)) == 0 else None
            ),
        )
        for rule in rules
    ]
    if draw(st.integers(0, 3)) > 0:
        rules[0] = rate(
            "base",
            points_per_unit=draw(st.integers(1, 20)),
            unit_minor=draw(st.sampled_from([1, 7, 100])),
            rounding=draw(st.sampled_from(RoundingMode)),
        )
    caps = {}
    period = draw(st.sampled_from(["day", "week", "month", None]))
    if period is not None:
        caps[f"points_max_per_member_{period}"] = draw(
            st.one_of(st.integers(0, 4_000), st.just(INT64_MAX))
        )
    return rule_set(
        *rules, tier_count=TIER_COUNT, points_max_per_transaction=draw(points_max), **caps
    )


@st.composite
def vector_batches(draw: st.DrawFn, member_count: int) -> TransactionBatch:
    count = draw(st.integers(16, 80))
    usual = [st.integers(100, 20_000), st.integers(100, 20_000), st.integers(-5_000, 10_000)]
    edges = st.sampled_from([0, 1, 250, 2**31 - 1, 2**31, 2**40, -(2**31)])
    # One batch in ten has amounts at the int64 limits (most of those raise).
    limits = [st.sampled_from([INT64_MAX, INT64_MIN, INT64_MIN + 1])] * (
        draw(st.integers(0, 9)) == 0
    )
    amounts = st.one_of(*usual, edges, *limits)

    def column(values: st.SearchStrategy[int], dtype: type) -> np.ndarray:
        return np.array(draw(st.lists(values, min_size=count, max_size=count)), dtype=dtype)

    timestamps = column(st.integers(START_SECONDS, END_SECONDS), np.int64)
    if draw(st.integers(0, 3)) > 0:
        # Mostly ascending, as batches are: groups of 8 share a day, some straddle one.
        timestamps = np.sort(timestamps)
    return TransactionBatch(
        member_indexes=column(st.integers(0, member_count - 1), np.int32),
        amounts_minor=column(amounts, np.int64),
        categories=column(st.integers(-1, 6), np.int32),
        skus=column(st.integers(0, 3), np.int64),
        channels=column(st.integers(-1, 3), np.int32),
        stores=column(st.integers(0, 4), np.int32),
        timestamps_seconds=timestamps,
    )


@pytest.mark.parametrize("instructions", INSTRUCTION_SETS)
@settings(PROPERTY_SETTINGS, max_examples=300)
@given(data=st.data(), rules=vector_rule_sets(), member_count=st.integers(1, 12))
def test_vector_path_equals_reference(
    instructions: str | None, data: st.DataObject, rules: RuleSet, member_count: int
) -> None:
    transactions = data.draw(vector_batches(member_count))
    tiers = np.array(
        data.draw(
            st.lists(st.integers(0, TIER_COUNT - 1), min_size=member_count, max_size=member_count)
        ),
        dtype=np.int8,
    )
    counters = new_cap_counters(member_count)
    counters[:, :, 1] = data.draw(st.sampled_from([0, 100, 3_000, 2**23 - 10, 2**40]))
    first_day = int(transactions.timestamps_seconds.min()) // 86_400
    counters[0, :, 0] = data.draw(st.sampled_from([0, first_day, first_day + 1]))
    arguments = {"member_tiers": tiers, "cap_counters": counters}
    with vector_instructions(instructions):
        before = _accrual.vector_transaction_count()
        kernel = outcome(accrue, transactions, rules=compile_rules(rules), **arguments)
        taken = _accrual.vector_transaction_count() - before
    slow = outcome(reference.accrue, transactions, rules=rules, **arguments)
    assert_same_accrual(kernel, slow)
    if instructions is None:
        assert taken == 0
    event(f"vector path: {'some' if taken else 'none'}")


def bench_like_batch(count: int, member_count: int, seed: int) -> TransactionBatch:
    rng = np.random.default_rng(seed)
    amounts = rng.integers(100, 20_000, count, dtype=np.int64)
    amounts[rng.random(count) < 0.05] *= -1
    return TransactionBatch(
        member_indexes=rng.integers(0, member_count, count, dtype=np.int32),
        amounts_minor=amounts,
        categories=rng.integers(0, 30, count, dtype=np.int32),
        skus=rng.integers(0, 1_000, count, dtype=np.int64),
        channels=rng.integers(0, 4, count, dtype=np.int32),
        stores=rng.integers(0, 200, count, dtype=np.int32),
        timestamps_seconds=np.sort(rng.integers(START_SECONDS, END_SECONDS, count)),
    )


def bench_like_rules() -> RuleSet:
    return rule_set(
        rate("base", points_per_unit=10, unit_minor=100, rounding=RoundingMode.HALF_EVEN),
        *(multiplier(f"tier-{t}", 10_000 + 2_500 * t, tiers=frozenset({t})) for t in (1, 2)),
        *(
            multiplier(f"category-{c}", 11_000 + 1_000 * c, categories=frozenset({c}))
            for c in range(12)
        ),
        multiplier("weekend", 20_000, window=TimeWindow(weekdays=frozenset({5, 6}))),
        points_max_per_transaction=5_000,
        points_max_per_member_month=60_000,
    )


@pytest.mark.parametrize("instructions", INSTRUCTION_SETS)
def test_vector_path_takes_the_usual_batch_and_equals_the_reference(
    instructions: str | None,
) -> None:
    batch, tiers = bench_like_batch(4_000, 300, seed=7), np.arange(300, dtype=np.int8) % 3
    kernel, taken = accrue_counted(
        instructions, batch, tiers=tiers, member_count=300, rules=bench_like_rules()
    )
    # Most of the batch went 16 at a time.
    assert taken > 3_000 if instructions else taken == 0
    slow = reference.accrue(
        batch, member_tiers=tiers, cap_counters=new_cap_counters(300), rules=bench_like_rules()
    )
    assert_same_accrual(kernel, slow)


def wide_rules(*, rule_count: int, tier_count: int, category_span: int) -> RuleSet:
    """Many rules at once: up to 5 multipliers a transaction, spend thresholds, an hours window,
    channels and stores, so that the vector path's wider cases run (slot pairs, bigger tables,
    rule sets past 52 rules, whose plan keys no longer pack with the plan index)."""
    rules = [
        rate("base", points_per_unit=7, unit_minor=100, rounding=RoundingMode.HALF_UP),
        rate("big-spend", points_per_unit=9, unit_minor=100, spend_min_minor=15_000),
        multiplier("evening", 15_000, window=TimeWindow(start_minute_of_day=18 * 60)),
        multiplier("online", 12_500, channels=frozenset({1})),
        multiplier("flagship", 11_100, stores=frozenset({0, 3})),
    ]
    for n in range(rule_count - len(rules)):
        rules.append(
            multiplier(
                f"wide-{n}",
                10_001 + 337 * n,
                tiers=frozenset({n % tier_count}),
                categories=frozenset({n % category_span, (3 * n + 1) % category_span}),
            )
        )
    return rule_set(
        *rules,
        tier_count=tier_count,
        points_max_per_member_week=40_000,
        points_max_per_transaction=9_000,
    )


@pytest.mark.parametrize("instructions", INSTRUCTION_SETS[:-1])
@pytest.mark.parametrize(
    ("rule_count", "tier_count", "category_span"),
    [(12, 3, 6), (40, 12, 30), (60, 20, 45)],
    ids=["few", "packed-keys", "wide"],
)
def test_vector_path_with_wide_rule_sets_equals_reference(
    instructions: str, rule_count: int, tier_count: int, category_span: int
) -> None:
    rules = wide_rules(rule_count=rule_count, tier_count=tier_count, category_span=category_span)
    member_count, count = 200, 2_000
    rng = np.random.default_rng(rule_count)
    amounts = rng.integers(1, 30_000, count, dtype=np.int64)
    amounts[rng.random(count) < 0.1] *= -1
    batch = TransactionBatch(
        member_indexes=rng.integers(0, member_count, count, dtype=np.int32),
        amounts_minor=amounts,
        categories=rng.integers(-2, category_span + 3, count, dtype=np.int32),
        skus=np.zeros(count, dtype=np.int64),
        channels=rng.integers(0, 3, count, dtype=np.int32),
        stores=rng.integers(0, 5, count, dtype=np.int32),
        timestamps_seconds=np.sort(rng.integers(START_SECONDS, END_SECONDS, count)),
    )
    tiers = rng.integers(0, tier_count, member_count, dtype=np.int8)
    slow = reference.accrue(
        batch, member_tiers=tiers, cap_counters=new_cap_counters(member_count), rules=rules
    )
    kernel, taken = accrue_counted(
        instructions, batch, tiers=tiers, member_count=member_count, rules=rules
    )
    assert_same_accrual(kernel, slow)
    assert taken > count // 2


@pytest.mark.parametrize("instructions", INSTRUCTION_SETS[:-1])
def test_vector_path_writes_excluded_lanes_among_plans_of_many_slots(instructions: str) -> None:
    """With more than 3 multiplier slots the vector path writes only its excluded lanes, with no
    entries, and leaves the others to the scalar code; here the widest plan grows from 2 slots to
    5 mid-batch."""
    rules = rule_set(
        rate("base", points_per_unit=3, unit_minor=100, rounding=RoundingMode.HALF_EVEN),
        *(multiplier(f"always-{n}", 10_500 + 500 * n) for n in range(2)),
        # Online only: the first 800 transactions (in store) meet plans of 2 slots, the rest 5.
        *(multiplier(f"online-{n}", 11_500 + 500 * n, channels=frozenset({1})) for n in range(3)),
        exclusion("gift-cards", categories=frozenset(range(0, 30, 3))),
    )
    batch = bench_like_batch(2_000, 100, seed=11)
    channels = np.where(np.arange(2_000) < 800, 0, 1).astype(np.int32)
    batch = dataclasses.replace(batch, channels=channels)
    tiers = np.zeros(100, dtype=np.int8)
    kernel, taken = accrue_counted(instructions, batch, tiers=tiers, member_count=100, rules=rules)
    slow = reference.accrue(
        batch, member_tiers=tiers, cap_counters=new_cap_counters(100), rules=rules
    )
    assert_same_accrual(kernel, slow)
    assert taken > 1_000
    assert (np.asarray(kernel.points)[800:] == 0).sum() > 200
