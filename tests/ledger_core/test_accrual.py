"""accrue: hand-computed cases, one kind of rule at a time, then the stacking order."""

import array
import datetime as dt

import numpy as np
import pytest
from ledger_core_builders import (
    WEDNESDAY_NOON,
    batch,
    bonus,
    exclusion,
    local_seconds,
    multiplier,
    points_of,
    rate,
    rule_set,
)

from ledger_core import (
    AccrualOverflowError,
    InputError,
    RoundingMode,
    TimeWindow,
    TransactionBatch,
    TransactionError,
    accrue,
    compile_rules,
    new_cap_counters,
)

WEEKEND = TimeWindow(weekdays=frozenset({5, 6}))


def test_ten_points_per_euro_floors_the_cents() -> None:
    assert points_of(rule_set(rate()), batch([1234, 100, 99, 0])) == [123, 10, 9, 0]


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        (RoundingMode.FLOOR, [2, 3, 2, 3]),
        (RoundingMode.HALF_UP, [3, 4, 2, 4]),
        (RoundingMode.HALF_EVEN, [2, 4, 2, 4]),
    ],
)
def test_rounding_modes_at_and_around_one_half(rounding: RoundingMode, expected: list[int]) -> None:
    # One point per euro: 2.50, 3.50, 2.49 and 3.51 euros.
    rules = rule_set(rate(points_per_unit=1, rounding=rounding))
    assert points_of(rules, batch([250, 350, 249, 351])) == expected


def test_a_return_reverses_the_points_of_the_same_amount() -> None:
    rules = rule_set(rate(rounding=RoundingMode.HALF_EVEN), multiplier("double", 20_000))
    assert points_of(rules, batch([1235, -1235])) == [248, -248]


def test_weekend_double_points_across_the_march_dst_change_in_amsterdam() -> None:
    # Clocks go from CET (UTC+1) to CEST (UTC+2) on Sunday 2024-03-31.
    timestamps = [
        local_seconds(2024, 3, 29, 23, 59, 59),  # Friday
        local_seconds(2024, 3, 30, 0, 0, 0),  # Saturday
        local_seconds(2024, 3, 31, 23, 59, 59),  # Sunday, summer time
        local_seconds(2024, 4, 1, 0, 0, 0),  # Monday
    ]
    assert timestamps == [1711753199, 1711753200, 1711922399, 1711922400]
    rules = rule_set(rate(), multiplier("weekend", 20_000, window=WEEKEND))
    assert points_of(rules, batch([1000] * 4, timestamps_seconds=timestamps)) == [
        100,
        200,
        200,
        100,
    ]


def test_weekend_double_points_across_the_october_dst_change_in_amsterdam() -> None:
    # Clocks go from CEST (UTC+2) back to CET (UTC+1) on Sunday 2024-10-27.
    timestamps = [
        local_seconds(2024, 10, 25, 23, 59, 59),  # Friday, summer time
        local_seconds(2024, 10, 26, 0, 0, 0),  # Saturday
        local_seconds(2024, 10, 27, 23, 59, 59),  # Sunday, winter time
        local_seconds(2024, 10, 28, 0, 0, 0),  # Monday
    ]
    assert timestamps == [1729893599, 1729893600, 1730069999, 1730070000]
    rules = rule_set(rate(), multiplier("weekend", 20_000, window=WEEKEND))
    assert points_of(rules, batch([1000] * 4, timestamps_seconds=timestamps)) == [
        100,
        200,
        200,
        100,
    ]


def test_hours_window_wrapping_past_midnight_and_date_range() -> None:
    late = TimeWindow(start_minute_of_day=22 * 60, end_minute_of_day=2 * 60)
    may = TimeWindow(first_date=dt.date(2024, 5, 1), last_date=dt.date(2024, 5, 31))
    rules = rule_set(rate(), bonus("late", 7, window=late), bonus("may", 1000, window=may))
    timestamps = [
        local_seconds(2024, 5, 31, 21, 59, 59),
        local_seconds(2024, 5, 31, 22, 0, 0),
        local_seconds(2024, 6, 1, 1, 59, 59),
        local_seconds(2024, 6, 1, 2, 0, 0),
        local_seconds(2024, 4, 30, 23, 0, 0),
    ]
    expected = [1010, 1017, 17, 10, 17]
    assert points_of(rules, batch([100] * 5, timestamps_seconds=timestamps)) == expected


@pytest.mark.parametrize(
    ("dimension", "matching", "other"),
    [
        ("categories", {"categories": [4]}, {"categories": [5]}),
        ("skus", {"skus": [10**12]}, {"skus": [7]}),
        ("channels", {"channels": [2]}, {"channels": [1]}),
        ("stores", {"stores": [31]}, {"stores": [30]}),
    ],
)
def test_multiplier_by_dimension(
    dimension: str, matching: dict[str, list[int]], other: dict[str, list[int]]
) -> None:
    value = next(iter(matching.values()))[0]
    rules = rule_set(rate(), multiplier("triple", 30_000, **{dimension: frozenset({value})}))
    assert points_of(rules, batch([500], **matching)) == [150]
    assert points_of(rules, batch([500], **other)) == [50]


def test_multiplier_by_tier() -> None:
    rules = rule_set(rate(), multiplier("gold", 15_000, tiers=frozenset({2})))
    assert points_of(rules, batch([1000, 1000], members=[0, 1]), tiers=[1, 2], member_count=2) == [
        100,
        150,
    ]


def test_multipliers_add_up_and_are_attributed_each() -> None:
    # Base 100; gold adds 50 (1.5x), the category adds 100 (2x): 2.5x in all, not 3x.
    rules = rule_set(
        rate(),
        multiplier("gold", 15_000, tiers=frozenset({2})),
        multiplier("shoes", 20_000, categories=frozenset({3})),
    )
    result = accrue(
        batch([1000], categories=[3]),
        member_tiers=[2],
        cap_counters=new_cap_counters(1),
        rules=compile_rules(rules),
    )
    assert result.points.tolist() == [250]
    assert result.attribution_of(0) == {"base": 100, "gold": 50, "shoes": 100}


def test_exclusion_wins_over_everything() -> None:
    rules = rule_set(rate(), bonus("welcome", 500), exclusion("tobacco", categories=frozenset({9})))
    assert points_of(rules, batch([1000, 1000], categories=[9, 1])) == [0, 600]


def test_minimum_spend_per_rule() -> None:
    rules = rule_set(rate(spend_min_minor=1000), bonus("big basket", 50, spend_min_minor=5000))
    assert points_of(rules, batch([999, 1000, 4999, 5000])) == [0, 100, 499, 550]


def test_transaction_cap_trims_the_last_contribution_first() -> None:
    rules = rule_set(
        rate(), multiplier("double", 20_000), bonus("welcome", 30), points_max_per_transaction=170
    )
    result = accrue(
        batch([1000]),
        member_tiers=[0],
        cap_counters=new_cap_counters(1),
        rules=compile_rules(rules),
    )
    assert result.points.tolist() == [170]
    assert result.attribution_of(0) == {"base": 100, "double": 70}


def test_rule_cap_limits_that_rule_only() -> None:
    capped_bonus = bonus("welcome", 500)
    capped_bonus = type(capped_bonus)(**{**vars(capped_bonus), "points_max_per_transaction": 20})
    assert points_of(rule_set(rate(), capped_bonus), batch([1000])) == [120]


def test_monthly_cap_reached_midway_through_a_batch() -> None:
    rules = rule_set(rate(), points_max_per_member_month=250)
    timestamps = [local_seconds(2024, 5, day, 12, 0, 0) for day in (1, 2, 3, 4)]
    timestamps.append(local_seconds(2024, 6, 1, 0, 0, 0))  # a new month, a new cap
    result = accrue(
        batch([1000, 1000, 1000, 1000, 1000], timestamps_seconds=timestamps),
        member_tiers=[0],
        cap_counters=new_cap_counters(1),
        rules=compile_rules(rules),
    )
    assert result.points.tolist() == [100, 100, 50, 0, 100]
    assert result.cap_counters[2, 0].tolist() == [2024 * 12 + 5, 100]


def test_returns_neither_consume_nor_give_back_cap_room() -> None:
    rules = rule_set(rate(), points_max_per_member_day=150)
    assert points_of(rules, batch([1000, -1000, 1000, 1000])) == [100, -100, 50, 0]


def test_day_and_week_caps_carry_across_two_calls() -> None:
    rules = compile_rules(
        rule_set(rate(), points_max_per_member_day=150, points_max_per_member_week=250)
    )
    monday, tuesday = local_seconds(2024, 5, 13, 9, 0, 0), local_seconds(2024, 5, 14, 9, 0, 0)
    next_monday = local_seconds(2024, 5, 20, 9, 0, 0)
    first = accrue(
        batch([1000, 1000], timestamps_seconds=[monday, monday]),
        member_tiers=[0],
        cap_counters=new_cap_counters(1),
        rules=rules,
    )
    assert first.points.tolist() == [100, 50]
    second = accrue(
        batch([1000, 1000, 1000, 1000], timestamps_seconds=[monday, tuesday, tuesday, next_monday]),
        member_tiers=[0],
        cap_counters=first.cap_counters,
        rules=rules,
    )
    # Monday is full; Tuesday has day room 150 but the week only 100 left; a new week resets.
    assert second.points.tolist() == [0, 100, 0, 100]


def test_counters_passed_in_are_left_as_they_were() -> None:
    counters = new_cap_counters(1)
    rules = compile_rules(rule_set(rate(), points_max_per_member_day=150))
    accrue(batch([1000]), member_tiers=[0], cap_counters=counters, rules=rules)
    assert not counters.any()


def test_overflow_names_the_transaction() -> None:
    rules = rule_set(rate(points_per_unit=10, unit_minor=1))
    huge = 2**62
    with pytest.raises(AccrualOverflowError) as raised:
        points_of(rules, batch([5, huge // 10, huge]))
    assert raised.value.transaction_index == 2


def test_int64_min_amount_overflows_and_int64_max_fits_a_unit_rate() -> None:
    int64_max = 2**63 - 1
    assert points_of(rule_set(rate(points_per_unit=1, unit_minor=1)), batch([int64_max])) == [
        int64_max
    ]
    with pytest.raises(AccrualOverflowError) as raised:
        points_of(rule_set(rate()), batch([1, -(2**63)]))
    assert raised.value.transaction_index == 1


def test_overflow_of_the_sum_of_contributions() -> None:
    rules = rule_set(rate(points_per_unit=1, unit_minor=1), bonus("one more", 1))
    with pytest.raises(AccrualOverflowError):
        points_of(rules, batch([2**63 - 1]))


def test_many_contributions_per_transaction_grow_the_attribution() -> None:
    rules = rule_set(rate(), *(bonus(f"bonus-{n}", n + 1) for n in range(10)))
    result = accrue(
        batch([1000] * 50),
        member_tiers=[0],
        cap_counters=new_cap_counters(1),
        rules=compile_rules(rules),
    )
    assert result.points.tolist() == [100 + 55] * 50
    assert result.attribution_counts.tolist() == [11] * 50
    assert result.points_by_rule()["bonus-9"] == 500


def test_array_array_columns_work() -> None:
    transactions = TransactionBatch(
        member_indexes=array.array("i", [0, 1]),
        amounts_minor=array.array("q", [1000, 2000]),
        categories=array.array("i", [0, 0]),
        skus=array.array("q", [0, 0]),
        channels=array.array("i", [0, 0]),
        stores=array.array("i", [0, 0]),
        timestamps_seconds=array.array("q", [WEDNESDAY_NOON] * 2),
    )
    result = accrue(
        transactions,
        member_tiers=array.array("b", [0, 0]),
        cap_counters=new_cap_counters(2),
        rules=compile_rules(rule_set(rate())),
    )
    assert result.points.tolist() == [100, 200]


def test_empty_batch() -> None:
    result = accrue(
        batch([]),
        member_tiers=[],
        cap_counters=new_cap_counters(0),
        rules=compile_rules(rule_set(rate())),
    )
    assert result.points.tolist() == []
    assert result.attribution_offsets.tolist() == [0]


def test_member_index_out_of_range_is_named() -> None:
    with pytest.raises(TransactionError) as raised:
        points_of(rule_set(rate()), batch([1, 2], members=[0, 1]))
    assert (raised.value.transaction_index, raised.value.field) == (1, "member_indexes")


def test_timestamp_out_of_range_is_named() -> None:
    with pytest.raises(TransactionError) as raised:
        points_of(rule_set(rate()), batch([1], timestamps_seconds=[-1]))
    assert raised.value.field == "timestamps_seconds"


def test_columns_of_different_lengths_are_refused() -> None:
    transactions = TransactionBatch(
        member_indexes=[0, 0],
        amounts_minor=[1],
        categories=[0, 0],
        skus=[0, 0],
        channels=[0, 0],
        stores=[0, 0],
        timestamps_seconds=[WEDNESDAY_NOON] * 2,
    )
    with pytest.raises(InputError) as raised:
        points_of(rule_set(rate()), transactions)
    assert raised.value.argument == "batch.amounts_minor"


def test_tier_out_of_range_and_counters_of_the_wrong_shape_are_refused() -> None:
    rules = compile_rules(rule_set(rate(), tier_count=2))
    with pytest.raises(InputError) as raised:
        accrue(batch([1]), member_tiers=[2], cap_counters=new_cap_counters(1), rules=rules)
    assert raised.value.argument == "member_tiers"
    with pytest.raises(InputError) as raised:
        accrue(batch([1]), member_tiers=[0], cap_counters=np.zeros((1, 6)), rules=rules)
    assert raised.value.argument == "cap_counters"


def test_values_that_do_not_fit_the_column_type_are_refused() -> None:
    with pytest.raises(InputError) as raised:
        points_of(
            rule_set(rate()), batch([1]).__class__(**{**vars(batch([1])), "categories": [2**40]})
        )
    assert raised.value.argument == "batch.categories"
