"""accrue with caller-owned output buffers, and batches whose years outgrow the offset table."""

import numpy as np
import pytest
from ledger_core_builders import batch, local_seconds, multiplier, rate, rule_set

from ledger_core import (
    InputError,
    TimeWindow,
    accrue,
    compile_rules,
    new_accrual_buffers,
    new_cap_counters,
    reference,
)

WEEKEND = TimeWindow(weekdays=frozenset({5, 6}))


def test_out_buffers_are_written_and_the_result_views_them() -> None:
    rules = rule_set(rate(), multiplier("double", 20_000), points_max_per_member_day=250)
    out = new_accrual_buffers(transactions_max=8, member_count=2, attribution_entries_max=64)
    out.points.fill(-7)
    transactions = batch([1000, 1000, 1000], members=[0, 1, 0])
    counters = new_cap_counters(2)
    result = accrue(
        transactions,
        member_tiers=[0, 0],
        cap_counters=counters,
        rules=compile_rules(rules),
        out=out,
    )
    assert result.points.tolist() == [200, 200, 50]
    assert np.shares_memory(result.points, out.points)
    assert np.shares_memory(result.attribution_points, out.attribution_points)
    assert result.cap_counters is out.cap_counters
    assert out.points[:3].tolist() == [200, 200, 50]
    assert out.points[3:].tolist() == [-7] * 5
    assert result.attribution_of(2) == {"base": 50}
    assert not counters.any()


def test_out_buffers_reused_give_what_fresh_buffers_give() -> None:
    rules = compile_rules(rule_set(rate(), multiplier("double", 20_000, categories=frozenset({1}))))
    out = new_accrual_buffers(transactions_max=4, member_count=1, attribution_entries_max=2)
    for categories in ([1, 0, 1], [0, 1, 1, 1]):
        transactions = batch([500] * len(categories), categories=categories)
        kept = accrue(transactions, member_tiers=[0], cap_counters=new_cap_counters(1), rules=rules)
        reused = accrue(
            transactions, member_tiers=[0], cap_counters=new_cap_counters(1), rules=rules, out=out
        )
        # Two attribution entries do not hold the batch: accrue grew copies of its own.
        for name in ("points", "attribution_counts", "attribution_rule_indexes"):
            assert getattr(reused, name).tolist() == getattr(kept, name).tolist(), name
        assert reused.attribution_points.tolist() == kept.attribution_points.tolist()


@pytest.mark.parametrize(
    ("field", "buffers"),
    [
        ("out.points", {"transactions_max": 2, "member_count": 1, "attribution_entries_max": 9}),
        (
            "out.cap_counters",
            {"transactions_max": 3, "member_count": 2, "attribution_entries_max": 9},
        ),
    ],
)
def test_out_buffers_too_short_or_of_the_wrong_shape_are_refused(
    field: str, buffers: dict[str, int]
) -> None:
    out = new_accrual_buffers(**buffers)
    with pytest.raises(InputError) as raised:
        accrue(
            batch([1, 2, 3]),
            member_tiers=[0],
            cap_counters=new_cap_counters(1),
            rules=compile_rules(rule_set(rate())),
            out=out,
        )
    assert raised.value.argument == field


def test_timestamps_in_years_after_and_before_the_first_widen_the_offset_table() -> None:
    # Saturdays in summer (UTC+2) and winter (UTC+1), years apart: an hour off would move the
    # first and last across midnight into Friday.
    timestamps = [
        local_seconds(2024, 6, 1, 0, 30, 0),
        local_seconds(2031, 1, 4, 23, 30, 0),
        local_seconds(2019, 6, 8, 0, 30, 0),
        local_seconds(2024, 6, 1, 23, 30, 0),
    ]
    rules = rule_set(rate(), multiplier("weekend", 20_000, window=WEEKEND))
    transactions = batch([1000] * 4, timestamps_seconds=timestamps)
    kernel = accrue(
        transactions, member_tiers=[0], cap_counters=new_cap_counters(1), rules=compile_rules(rules)
    )
    slow = reference.accrue(
        transactions, member_tiers=[0], cap_counters=new_cap_counters(1), rules=rules
    )
    assert kernel.points.tolist() == slow.points.tolist() == [200, 200, 200, 200]


def test_cap_counters_of_every_kind_carry_over_as_the_reference_says() -> None:
    # The kernel keeps the counters of the first transaction's periods compact while it runs;
    # members come in with counters of that period (small, past int32, negative), of another
    # period, and of the later period the batch moves into.
    may, june = 2024 * 12 + 4, 2024 * 12 + 5
    counters = new_cap_counters(5)
    counters[2] = [[may, 100], [may, 2**40], [may, -50], [june, 30], [2024 * 12, 10**6]]
    counters[0] = [[0, 0], [0, 0], [0, 0], [0, 0], [19_000, 5]]
    rules = rule_set(
        rate(points_per_unit=10**9),
        points_max_per_member_month=2**41,
        points_max_per_member_day=2**62,
    )
    may_day, june_day = local_seconds(2024, 5, 20, 12, 0, 0), local_seconds(2024, 6, 2, 12, 0, 0)
    members = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 3]
    timestamps = [may_day] * 5 + [june_day] * 5 + [may_day, may_day]
    transactions = batch([300] * 12, members=members, timestamps_seconds=timestamps)
    kernel = accrue(
        transactions, member_tiers=[0] * 5, cap_counters=counters, rules=compile_rules(rules)
    )
    slow = reference.accrue(transactions, member_tiers=[0] * 5, cap_counters=counters, rules=rules)
    assert kernel.points.tolist() == slow.points.tolist()
    assert kernel.cap_counters.tolist() == slow.cap_counters.tolist()
    # Past int32 in the compact period: member 0 moves to the caller's layout mid-batch.
    assert kernel.points[0] == 3 * 10**9
